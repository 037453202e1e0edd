"""The staff side in Slack, in one place:

  text          escaping patron text for mrkdwn, and reading a librarian's text as plain text
  cards         the blocks RefDesk posts (slack_sdk.models.blocks, which checks Slack's limits)
  api           the Web API calls; only the dispatcher makes them
  router        a registry in bolt's shape (`@router.event`, `@router.action`) that turns what
                Slack sends into jobs, synchronously, so FIFO order is kept
  events        the Events API listeners (thread replies, edits, deletions)
  interactions  the button listeners (Close)
  commands      the /refdesk slash command

A new Slack action is a listener in `interactions` (and its button in `cards`), a job type
in `refdesk.models`, and its handler in `refdesk.dispatch`."""
