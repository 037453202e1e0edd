"""POST /slack/commands - `/refdesk on|off|status`: librarians set their duty from Slack."""

from refdesk.slack import commands
from refdesk.http import Request, api_handler, json_response
from refdesk.signatures import verify_slack
from refdesk.observability import logger



@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    form = request.form()
    answer = commands.run(form.get("text", ""), form.get("user_id", ""), form.get("user_name", ""))
    return json_response(200, {"response_type": "ephemeral", "text": answer})
