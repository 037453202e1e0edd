"""The environment the handlers run in: template.yaml's variables resolved to the local
resources, plus local secrets and settings. Whatever the developer exported wins."""
from __future__ import annotations

import json
import os

# Values for the template parameters that have no default.
LOCAL_PARAMETER_VALUES = {"SlackStaffChannel": "C0STAFF01", "SlackTeamId": "T0LIBRARY",  # the Slack stand-in's
                          "TwilioFromNumber": "+15005550006",
                          # verified in the embedded moto by local.aws, as `make dev` needs
                          "SesSenderIdentity": "askus@library.example.org"}

LOCAL_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-local-token",
    "SLACK_SIGNING_SECRET": "local-signing-secret",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "local-auth-token",
    "PATRON_ID_KEY": "local-patron-id-key",
    "REPORT_LINK_KEY": "local-report-link-key",
}

# Librarians can go on duty at any hour on a developer's machine.
ALWAYS_OPEN = json.dumps({day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


def local_values(port: int) -> dict[str, str]:
    base_url = f"http://127.0.0.1:{port}"
    return {
        **LOCAL_SECRETS,
        "PUBLIC_BASE_URL": base_url,
        "ALLOWED_ORIGINS": f"{base_url},http://localhost:{port}",
        "OPENING_HOURS": ALWAYS_OPEN,
        # Failed jobs are retried at once (refdesk.retry), not after 5 s, 15 s … up to an hour.
        "RETRY_DELAY_SCALE": "0",
        # The sweep's wake-ups (refdesk.waiting) come 3 s apart at the least, not a minute: with
        # NUDGE_MINUTES=0 a waiting conversation is nudged within seconds. NudgeMinutes itself is
        # not scaled (3 minutes by default).
        "SWEEP_DELAY_SCALE": "0.05",
        # The Slack stand-in enforces no rate limit unless asked (POST /_local/api/slack/rate_limit),
        # so posts are not paced unless SLACK_POSTS_PER_SECOND is set (AWS: SlackPostsPerSecond, 1 a second
        # per channel). Every name here is a setting refdesk.settings declares, or a secret.
        "SLACK_POSTS_PER_SECOND": "0",
    }


def live_values(live_url: str, connections_url: str) -> dict[str, str]:
    """The web chat's live connection as local.websocket serves it: the URL a new session's
    live_url starts with, and the @connections endpoint the dispatcher pushes to."""
    return {"LIVE_URL": live_url, "LIVE_CONNECTIONS_URL": connections_url}


def apply(*layers: dict) -> None:
    """Sets each variable from the last layer that has it, unless os.environ already does."""
    merged = {}
    for layer in layers:
        merged.update(layer)
    for name, value in merged.items():
        os.environ.setdefault(name, str(value))
