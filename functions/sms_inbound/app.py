"""POST /sms/inbound - Twilio's Messaging webhook: verify, store, enqueue, answer TwiML."""

from refdesk import conversations
from refdesk.channels import sms
from refdesk.http import Request, api_handler, respond
from refdesk.settings import get_settings
from refdesk.signatures import verify_twilio
from refdesk.observability import logger

TWIML = "text/xml; charset=utf-8"


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    form = request.form()
    verify_twilio(request, form)
    message = sms.CHANNEL.parse(form)
    if message is None:
        logger.info("opt-out/help keyword left to Twilio")
        return respond(200, sms.twiml(), TWIML)
    opened = conversations.accept(message)
    return respond(200, sms.twiml(get_settings().sms_ack_text if opened else ""), TWIML)
