"""`make dev`: the whole RefDesk stack on this machine. Run from the repository root:

    python -m local.devstack        (PORT, default 3000; LOCAL_RETRY_DELAY, default 1 s;
                                     SWEEP_DELAY_SCALE: the sweep's pace, default 0.05 (3 s
                                     between wake-ups at the least, not a minute);
                                     LOCAL_SCHEDULE_SECONDS: run rate() Schedule events this often
                                     instead (the template has none now);
                                     LIVE_PORT: the WebSocket API's port, default any free one;
                                     LIVE_LOSE_DISCONNECTS=1: no $disconnect events, as when API
                                     Gateway's best effort fails)

AWS_ENDPOINT_URL, SLACK_API_URL or TWILIO_API_URL, when set, replace the embedded moto,
Slack stand-in or Twilio stand-in."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from local import cdn, environment
from local.aws import LocalAws
from local.console import say
from local.control import Control
from local.gateway import Gateway
from local.handlers import Invoker
from local.lambda_api import LambdaApi
from local.servers import Server
from local.slack_standin import SlackStandIn
from local.template import Template
from local.timer import ScheduleRunner, Timer
from local.twilio_standin import TwilioStandIn
from local.websocket import LiveApi

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "local" / "static"
# Twilio reports a text's progress (sent, delivered) once the carrier has it: here this soon after
# the send, to the status callback over the gateway (local.twilio_standin).
TWILIO_REPORT_SECONDS = 0.3


def main() -> int:
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    started = time.monotonic()
    port = int(os.environ.get("PORT") or 3000)
    retry_delay = float(os.environ.get("LOCAL_RETRY_DELAY") or 1)
    template = Template(ROOT / "template.yaml", environment.LOCAL_PARAMETER_VALUES)

    with ExitStack() as running:
        aws = LocalAws(template, os.environ.get("AWS_ENDPOINT_URL"))
        running.callback(aws.stop)
        resolve = template.resolver(aws.refs, aws.attributes)
        environment.apply(resolve(template.environment()), environment.local_values(port))

        slack = None if os.environ.get("SLACK_API_URL") else SlackStandIn(os.environ["SLACK_BOT_TOKEN"])
        twilio = None if os.environ.get("TWILIO_API_URL") else TwilioStandIn(
            os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"], os.environ["TWILIO_FROM_NUMBER"],
            report_after=TWILIO_REPORT_SECONDS)
        for stand_in, variable in ((slack, "SLACK_API_URL"), (twilio, "TWILIO_API_URL")):
            if stand_in:
                running.callback(stand_in.stop)
                os.environ[variable] = stand_in.api_url

        # The layer's package is importable in Lambda from /opt/python; here from its source.
        sys.path[:0] = [str(path) for path in template.layer_dirs()]
        functions = template.functions()
        invoker = Invoker(functions)
        # The WebSocket API (the web chat's live connection), on a port of its own: the handlers
        # reach it through these URLs, set before any of them runs.
        [websocket_api] = template.websocket_apis()
        live = LiveApi(websocket_api, invoker, int(os.environ.get("LIVE_PORT") or 0),
                       lose_disconnects=os.environ.get("LIVE_LOSE_DISCONNECTS") == "1")
        running.callback(live.stop)
        os.environ.update(environment.live_values(live.url, live.connections_url))
        # Lambda's Invoke API, on a port of its own: the handlers wake the dispatcher and ask the
        # reports function through it, and it runs each function's invocations one at a time.
        targets = template.function_arns(resolve)
        lambda_api = LambdaApi(targets, invoker, retry_seconds=retry_delay)
        lambda_server = Server(lambda_api)
        running.callback(lambda_server.stop)
        running.callback(lambda_api.stop)
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = lambda_server.url
        # One-time schedules (the sweep's wake-ups, refdesk.waiting), as EventBridge Scheduler
        # fires them: each schedule group is watched, its due schedules invoke their function.
        for group_name in template.resources("AWS::Scheduler::ScheduleGroup"):
            runner = ScheduleRunner(aws.scheduler, aws.refs[group_name], invoker, targets, retry_seconds=retry_delay)
            runner.start()
            running.callback(runner.stop)
        # rate() Schedule events, as EventBridge would invoke them (cron() ones, the monthly report,
        # are not run here).
        schedule_seconds = float(os.environ.get("LOCAL_SCHEDULE_SECONDS") or 0) or None
        for function in functions:
            for trigger in function.schedules:
                if not trigger.enabled or trigger.seconds is None:
                    say("timer", f"{function.name}: {trigger.expression} is not run locally")
                    continue
                timer = Timer(function.name, trigger, invoker, schedule_seconds)
                timer.start()
                running.callback(timer.stop)

        gateway_url = f"http://127.0.0.1:{port}"
        try:
            control = Control(gateway_url, aws, slack, twilio)
            server = Server(Gateway(functions, invoker, control, STATIC_DIR, port, cdn.behaviors(template)), port)
        except OSError as error:
            say("devstack", f"cannot listen on 127.0.0.1:{port} ({error.strerror}); choose another PORT")
            return 1
        running.callback(server.stop)
        _banner(gateway_url, live, aws, slack, twilio, time.monotonic() - started)

        while not stopping.wait(0.5):
            pass
        say("devstack", "stopping…")
    say("devstack", "stopped")
    return 0


def _banner(gateway_url: str, live: LiveApi, aws: LocalAws, slack, twilio, seconds: float) -> None:
    def origin(embedded: bool) -> str:
        return "embedded" if embedded else "external"

    print(f"""
RefDesk local stack ready in {seconds:.1f} s
  Patron page   {gateway_url}/
  Staff view    {gateway_url}/_local/
  Health        {gateway_url}/health
  Live chat     {live.url} (WebSocket; its @connections API: {live.connections_url})
  Cache         {gateway_url}{cdn.PREFIX}/presence (CloudFront's stand-in; counts at {cdn.CONTROL_PATH})
  AWS           {aws.endpoint_url} ({'moto, ' if aws.embedded else ''}{origin(aws.embedded)})
  Slack API     {os.environ['SLACK_API_URL']} ({origin(slack is not None)})
  Twilio API    {os.environ['TWILIO_API_URL']} ({origin(twilio is not None)})
  SES sender    {aws.ses_sender_identity} (verified; sent e-mail in the staff view's Mailbox)
Ctrl-C to stop.
""", flush=True)


if __name__ == "__main__":
    sys.exit(main())
