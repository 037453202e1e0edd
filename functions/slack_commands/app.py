"""POST /slack/commands - `/refdesk on|off|status`: librarians set their duty from Slack."""
from aws_lambda_powertools import Logger

from refdesk import duty
from refdesk.http import Request, api_handler, json_response
from refdesk.signatures import verify_slack

logger = Logger(service="refdesk")


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    form = request.form()
    answer = duty.run_command(form.get("text", ""), form.get("user_id", ""), form.get("user_name", ""))
    return json_response(200, {"response_type": "ephemeral", "text": answer})
