"""POST /sms/inbound - Twilio's Messaging webhook: verify, store, enqueue, answer TwiML."""
from aws_lambda_powertools import Logger

from refdesk import conversations
from refdesk.channels import sms
from refdesk.http import Request, api_handler, respond
from refdesk.settings import get_settings
from refdesk.signatures import verify_twilio

logger = Logger(service="refdesk")
TWIML = "text/xml; charset=utf-8"


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    form = request.form()
    verify_twilio(request, form)
    inbound = sms.parse_inbound(form)
    if inbound.is_keyword:
        logger.info("opt-out/help keyword left to Twilio")
        return respond(200, sms.twiml(), TWIML)
    opened = conversations.accept_sms(inbound.sender, inbound.message_sid, inbound.text)
    return respond(200, sms.twiml(get_settings().sms_ack_text if opened else ""), TWIML)
