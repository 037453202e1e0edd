"""POST /slack/commands - `/refdesk on|off|status`: librarians set their duty from Slack."""
from refdesk import http
from refdesk.http import Api, Router
from refdesk.signatures import verify_slack
from refdesk.slack import commands

slack = Router()


@slack.post("/slack/commands")
def command():
    request = http.request(slack)
    verify_slack(request)
    form = request.form()
    answer = commands.run(form.get("text", ""), form.get("user_id", ""), form.get("user_name", ""))
    return http.json_response(200, {"response_type": "ephemeral", "text": answer})


app = Api(slack)

handler = http.lambda_handler(app)
