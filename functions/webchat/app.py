"""Web chat API for the widget: POST /chat/sessions, POST|GET /chat/sessions/{id}/messages,
DELETE /chat/sessions/{id} ("Delete this conversation"), POST /chat/sessions/{id}/rating and
POST /chat/sessions/{id}/transcript ("E-mail me this conversation"), POST /chat/sessions/{id}/files
(a picture or PDF to send) and GET /files/{token} (a librarian's file, by its link).
Browsers may use it only from the library's origins (ALLOWED_ORIGINS); see refdesk.http."""
from refdesk import http
from refdesk import webchat
from refdesk.http import Api, Router
from refdesk.observability import count
from refdesk.settings import get_settings

chat = Router()


@chat.post("/chat/sessions")
def create_session():
    request = http.request(chat)
    # The body is optional ({"visitor_id": …} from the widget); when there is one it must be JSON.
    answer = webchat.create_session(request.source_ip, request.json() if request.body else None)
    count("ChatSessionCreated")
    return http.json_response(201, answer)


@chat.post("/chat/sessions/<id>/messages")
def post_message(id: str):  # noqa: A002 - route variables are named as in template.yaml
    request = http.request(chat)
    answer = webchat.post_message(id, request.bearer_token(), request.json(), request.source_ip)
    count("PatronMessageAccepted", channel=webchat.CHANNEL.name)
    return http.json_response(201, answer)


@chat.get("/chat/sessions/<id>/messages")
def list_messages(id: str):  # noqa: A002
    request = http.request(chat)
    after = str(request.query.get("after", ""))
    return http.json_response(200, webchat.list_messages(id, request.bearer_token(), after,
                                                         api_base=f"https://{request.domain}"))


@chat.delete("/chat/sessions/<id>")
def delete_session(id: str):  # noqa: A002 - "Delete this conversation" (refdesk.erasure)
    answer = webchat.delete_session(id, http.request(chat).bearer_token())
    return http.json_response(202, answer)


@chat.post("/chat/sessions/<id>/rating")
def rate(id: str):  # noqa: A002 - the optional 1-5 rating after close (refdesk.assessment), once
    from refdesk import assessment

    request = http.request(chat)
    return http.json_response(202, assessment.rate_web_chat(id, request.bearer_token(), request.json()))


@chat.post("/chat/sessions/<id>/transcript")
def email_transcript(id: str):  # noqa: A002 - "E-mail me this conversation" after close (refdesk.transcript_mail)
    request = http.request(chat)
    return http.json_response(202, webchat.email_transcript(id, request.bearer_token(), request.json(),
                                                            request.source_ip))


@chat.post("/chat/sessions/<id>/files")
def request_upload(id: str):  # noqa: A002 - a picture or PDF to send: where to upload it (refdesk.attachments)
    request = http.request(chat)
    return http.json_response(201, webchat.request_upload(id, request.bearer_token(), request.json(),
                                                          request.source_ip))


@chat.route("/files/<token>", method=("GET", "HEAD"))
def shared_file(token: str):  # a librarian's file, by the link the patron got (refdesk.file_links)
    from refdesk import file_links

    return http.respond(302, headers={"location": file_links.open_link(token), "cache-control": "no-store"})


app = Api(chat, allowed_origins=get_settings().allowed_origins)

handler = http.lambda_handler(app)
