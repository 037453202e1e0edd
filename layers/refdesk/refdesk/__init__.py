"""RefDesk: the shared domain package deployed as the Lambda layer. docs/ARCHITECTURE.md maps
its modules; `refdesk.channels` states the contract every patron channel implements, and
`refdesk.slack` how a Slack event or button becomes a job."""
