"""Opt-outs: SMS patrons who texted STOP (Twilio's Advanced Opt-Out tells us with
`OptOutType`). The desk never sends to them until they text START. Keyed by the patron's
keyed hash (`identity.patron_id("sms", number)`): the table never holds the number here.

Access patterns:
  - record an opt-out when STOP arrives (one PutItem; the webhook's only call for a STOP)
  - clear it when START arrives (one DeleteItem)
  - is this patron opted out? (one GetItem, strongly consistent; expired items ignored), before
    every send"""
from __future__ import annotations

import time

from refdesk.store import keys
from refdesk.store.table import now_iso, table

# As long as Twilio keeps the opt-out itself: until the patron texts START.
OPT_OUT_SECONDS = keys.KEEP_SECONDS


def record(patron_id: str) -> None:
    table().put_item(Item={**keys.opt_out(patron_id), "opted_out_at": now_iso(),
                           "expires_at": keys.keep_until(OPT_OUT_SECONDS)})


def clear(patron_id: str) -> None:
    table().delete_item(Key=keys.opt_out(patron_id))


def is_opted_out(patron_id: str) -> bool:
    item = table().get_item(Key=keys.opt_out(patron_id), ConsistentRead=True).get("Item")
    return bool(item) and int(item.get("expires_at", 0)) > time.time()  # TTL deletion lags
