"""Web chat API for the widget: POST /chat/sessions, POST|GET /chat/sessions/{id}/messages."""

from refdesk.channels import web as webchat
from refdesk.http import Request, api_handler, cors, json_response
from refdesk.observability import logger



@api_handler
def route(request: Request, event: dict) -> dict:
    if request.path == "/chat/sessions":
        return json_response(201, webchat.create_session(request.source_ip))
    session_id = request.path_params.get("id", "")
    if request.method == "POST":
        answer = webchat.post_message(session_id, request.bearer_token(), request.json(), request.source_ip)
        return json_response(201, answer)
    return json_response(200, webchat.list_messages(session_id, request.bearer_token(),
                                                    request.query.get("after", "")))


@logger.inject_lambda_context
@cors
def handler(event: dict, context) -> dict:
    return route(event, context)
