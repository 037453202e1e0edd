"""POST /slack/commands - `/refdesk on|off|status|stats`: librarians set their duty from Slack and ask
for the desk's figures (queued for the reports function; answered at once)."""
from refdesk import http
from refdesk.http import Api, Router
from refdesk.settings import get_settings
from refdesk.signatures import verify_slack
from refdesk.slack import commands

slack = Router()


@slack.post("/slack/commands")
def command():
    request = http.request(slack)
    verify_slack(request)
    form = request.form()
    api_url = get_settings().public_base_url or f"https://{request.domain}"
    answer = commands.answer(form, api_url)
    return http.json_response(200, {"response_type": "ephemeral", "text": answer})


app = Api(slack)

handler = http.lambda_handler(app)
