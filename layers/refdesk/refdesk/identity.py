"""Patron identity, kept apart from the address used to reply.

A patron is known by a keyed hash of channel and address: stable (repeat patrons can be
counted), but the phone number cannot be recovered from it or guessed without the key. The key
is the SSM SecureString `{SsmPrefix}/patron-id-key` (PATRON_ID_KEY locally); changing it makes
every patron new (statistics count them again), so it is generated once and kept."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time

from refdesk import channels
from refdesk.settings import get_settings


def patron_id(channel: str, address: str) -> str:
    """The patron's keyed hash, of the address as their channel spells it (`Traits.patron_address`)."""
    return keyed_hash(channel, channels.traits(channel).patron_address(address))


def keyed_hash(kind: str, value: str) -> str:
    key = get_settings().secret("patron_id_key").encode()
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode().lower()


def new_id(prefix: str) -> str:
    """A time-ordered, unguessable id: prefix, milliseconds, 64 random bits."""
    return f"{prefix}{int(time.time() * 1000):012x}{os.urandom(8).hex()}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mask_phone(address: str) -> str:
    digits = re.sub(r"\D", "", address)
    return f"···{digits[-4:]}" if len(digits) >= 4 else "···"
