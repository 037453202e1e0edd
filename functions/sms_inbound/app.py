"""POST /sms/inbound - Twilio's Messaging webhook: verify, store, enqueue, answer TwiML (a
rating's thanks, the acknowledgement of a new conversation, or nothing).
POST /twilio/status - Twilio's status callback for each text the desk sent: verify, record
(refdesk.delivery_status), answer 204."""
from refdesk import assessment, conversations, delivery_status, erasure, http, jobs
from refdesk.channels import sms
from refdesk.errors import BadRequest, NotFound
from refdesk.http import Api, Router
from refdesk.observability import count, logger
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
        logger.info("opt-out keyword left to Twilio")
        return http.respond(200, sms.twiml(), TWIML)
    if erasure.is_request(message):  # DELETE: the dispatcher erases and confirms
        erasure.request(message)
        return http.respond(200, sms.twiml(), TWIML)
    rating = sms.take_rating(message)
    if rating:  # a digit answering the closing line: it rates the closed conversation, opens nothing
        jobs.enqueue(rating)
        count("RatingAccepted", channel=sms.CHANNEL.name)
        logger.info("rating by reply accepted", extra={"conversation_id": rating.conversation_id})
        return http.respond(200, sms.twiml(assessment.THANKS), TWIML)
    try:
        opened = conversations.accept(message)
    except NotFound:  # a START or HELP with no conversation open: Twilio's answer is all it gets
        logger.info("keyword left to Twilio: no open conversation")
        return http.respond(200, sms.twiml(), TWIML)
    count("PatronMessageAccepted", channel=sms.CHANNEL.name)
    return http.respond(200, sms.twiml(sms.acknowledgement() if opened else ""), TWIML)


@twilio.post(sms.STATUS_PATH)
def status():
    request = http.request(twilio)
    form = request.form()
    verify_twilio(request, form)
    sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not sid or not state:
        raise BadRequest("MessageSid or MessageStatus missing")
    delivery_status.report(sid, state, sms.undelivered(state, form.get("ErrorCode", "")))
    return http.respond(204)


app = Api(twilio)

handler = http.lambda_handler(app)
