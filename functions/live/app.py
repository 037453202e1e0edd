"""The web chat's live connection (API Gateway WebSocket API): $connect, $disconnect, and the
client's frames (the ping and $default routes). The rules are in refdesk.live; the contract the
widget relies on in refdesk.channels.web."""
from refdesk import live
from refdesk.observability import logger, metrics


@logger.inject_lambda_context(log_event=False)  # never the event: the $connect query string holds the token
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    request = event.get("requestContext") or {}
    connection_id = str(request.get("connectionId") or "")
    if request.get("eventType") == "CONNECT":
        query = event.get("queryStringParameters") or {}
        return live.connect(str(query.get("session") or ""), str(query.get("token") or ""), connection_id)
    if request.get("eventType") == "DISCONNECT":
        return live.disconnect(connection_id)
    return live.answer(event.get("body"))
