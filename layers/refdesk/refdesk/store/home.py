"""What each librarian chose to see in the app's Home tab (refdesk.slack.home).

Access patterns:
  - remember a librarian's filter (one PutItem; no patron data, so it keeps KEEP_SECONDS)
  - read it with every publish of their tab (one GetItem; "" when they never chose)"""
from __future__ import annotations

from refdesk.store import keys
from refdesk.store.table import expired, now_iso, table


def choose_filter(user_id: str, choice: str) -> None:
    table().put_item(Item={**keys.home_filter(user_id), "choice": choice, "chosen_at": now_iso(),
                           "expires_at": keys.keep_until()})


def filter_of(user_id: str) -> str:
    item = table().get_item(Key=keys.home_filter(user_id)).get("Item")
    return "" if not item or expired(item) else str(item.get("choice", ""))
