"""POST /sms/inbound - Twilio's Messaging webhook: verify, store, enqueue, answer TwiML."""
from refdesk import conversations, erasure, http
from refdesk.channels import sms
from refdesk.http import Api, Router
from refdesk.observability import count, logger
from refdesk.settings import get_settings
from refdesk.signatures import verify_twilio

TWIML = "text/xml; charset=utf-8"

twilio = Router()


@twilio.post("/sms/inbound")
def inbound():
    request = http.request(twilio)
    form = request.form()
    verify_twilio(request, form)
    message = sms.CHANNEL.parse(form)
    if message is None:
        logger.info("opt-out/help keyword left to Twilio")
        return http.respond(200, sms.twiml(), TWIML)
    if erasure.is_request(message):  # DELETE: the dispatcher erases and confirms
        erasure.request(message)
        return http.respond(200, sms.twiml(), TWIML)
    opened = conversations.accept(message)
    count("PatronMessageAccepted", channel=sms.CHANNEL.name)
    return http.respond(200, sms.twiml(get_settings().sms_ack_text if opened else ""), TWIML)


app = Api(twilio)

handler = http.lambda_handler(app)
