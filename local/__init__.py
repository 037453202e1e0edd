"""The local development stack: `python -m local.devstack` (make dev) runs the real handlers
behind an API Gateway look-alike, with moto for AWS and stand-ins for Slack and Twilio."""
