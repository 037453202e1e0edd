"""Every action id RefDesk puts on a Slack element, in one place: the cards and the Home tab
(refdesk.slack.cards, refdesk.slack.home) build elements with them, and the listeners
(refdesk.slack.interactions) are registered for them. Both import from here, never from each
other."""

CLOSE_ACTION = "close_conversation"
CLAIM_ACTION = "claim_conversation"  # on the card and in the Home tab; value: the conversation id
TRANSFER_ACTION = "transfer_conversation"  # the card's users_select: selected_user
BLOCK_ACTION = "block_patron"  # the card's Block patron button (confirm dialog); value: the conversation id
UNBLOCK_ACTION = "unblock_patron"  # the Home tab's Unblock button; value: the patron's keyed hash
INVITE_ACTION = "invite_department"  # the card's Invite button (value: the conversation id): opens a modal
QUICK_REPLY_ACTION = "quick_reply"  # the card's "Quick reply…" static_select (selected_option: a reply id)
READ_ACTION_PREFIX = "read_level_"  # read_level_1 … read_level_6; value: "{conversation id}:{level}"
TOPIC_ACTION = "topic_tag"  # the closed card's static_select; selected_option value: "{conversation id}:{topic}"
RATE_ACTION_PREFIX = "rate_"  # rate_1 … rate_5 in a Slack Connect thread; value: "{conversation id}:{rating}"
COMMENT_ACTION = "rating_comment"  # the rating's thanks: "Add a comment" opens a modal; value: the conversation id
TRANSCRIPT_ACTION = "email_transcript"  # on the rating's post: "E-mail me this conversation" opens a modal;
# value: the conversation id
REVEAL_ACTION = "reveal_original"  # on a redacted patron message (card, thread post); value: the conversation id
HOME_FILTER_ACTION = "home_filter"  # the Home tab's static_select; selected_option value: a refdesk.slack.home filter
CANNED_ADD_ACTION = "canned_add"  # the Home tab's "Add a canned reply": opens the modal
CANNED_EDIT_ACTION = "canned_edit"  # Edit beside a canned reply: opens the modal; value: the reply's id
