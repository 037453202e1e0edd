"""Fault injection for the stand-ins: the next `count` calls (of one Slack method, or any) fail.

A fault is given as JSON by the control API (POST /_local/api/faults) and by the tests:

    {"status": 500}                                   HTTP 500, once
    {"status": 429, "count": 2}                       rate limited twice (Slack adds Retry-After)
    {"method": "reactions.add", "error": "already_reacted"}
                                                      Slack answers HTTP 200 {"ok": false, "error": ...}
    {"status": 400, "code": 21211, "message": "..."}  Twilio's error code and message
    {"status": 500, "after": 1}                       the first call succeeds, the second fails
    {"method": "UpdateItem", "error": "ThrottlingException", "count": 5}
                                                      DynamoDB throttles (local.aws.DYNAMODB_ERRORS)
    {"status": 429, "retry_after": 5}                 Slack's Retry-After, in seconds (default 1)
    {"method": "chat.postMessage", "status": 500, "commit": true}
                                                      the call is carried out, then answered with
                                                      the error: the process died right after the
                                                      other side succeeded, or the answer was lost
    {"status": 500, "commit": true}                   Twilio: the text is sent, the answer is the error
                                                      (Twilio faults fail sends only, never its list)
    {"delivery": "undelivered", "code": 30006}        Twilio accepts the text, then its status callback
                                                      reports it undelivered with that ErrorCode (a
                                                      landline); {"delivery": "failed"} likewise

Several faults may be pending at once; each call takes the first that matches it."""
from __future__ import annotations

import threading
from dataclasses import dataclass

FIELDS = {"status", "count", "method", "error", "code", "message", "after", "retry_after", "commit", "delivery"}
DELIVERY_FAILURES = ("undelivered", "failed")  # what a Twilio fault's status callback may report


@dataclass
class Fault:
    status: int | None = None  # the HTTP status; None: the stand-in's usual one for the fault
    count: int = 1  # how many matching calls fail
    method: str = ""  # Slack: only calls of this Web API method ("" = any)
    error: str = ""  # Slack: the error of an {"ok": false} answer
    code: int | None = None  # Twilio: the error code
    message: str = ""  # Twilio: the error message
    after: int = 0  # matching calls let through before the first failure
    retry_after: int = 1  # Slack: the Retry-After of a 429, in seconds
    commit: bool = False  # the call takes effect; only its answer is the failure
    delivery: str = ""  # Twilio: the text is accepted, and its status callback reports this failure

    @classmethod
    def from_spec(cls, spec) -> "Fault":
        if not isinstance(spec, dict):
            raise ValueError('a fault is an object such as {"status": 500, "count": 1}')
        unknown = set(spec) - FIELDS
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = cls(**spec)
        if fault.status is not None and not (isinstance(fault.status, int) and 400 <= fault.status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        if fault.status is None and not (fault.error or fault.code or fault.delivery):
            raise ValueError("a fault needs a status, a Slack error, a Twilio code or a delivery failure")
        if fault.delivery and (fault.delivery not in DELIVERY_FAILURES or fault.status is not None or fault.commit):
            raise ValueError(f"delivery is one of {', '.join(DELIVERY_FAILURES)}, with no status and no commit")
        for name in ("count", "after", "retry_after"):
            value = getattr(fault, name)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{name} must be a non-negative integer")
        if not isinstance(fault.commit, bool):
            raise ValueError("commit must be true or false")
        if fault.code is not None and not isinstance(fault.code, int):
            raise ValueError("code must be an integer")
        for name in ("method", "error", "message"):
            if not isinstance(getattr(fault, name), str):
                raise ValueError(f"{name} must be a string")
        return fault


class InjectedFaults:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def set(self, spec) -> None:
        """Replaces the pending faults with this one (an object) or these (a list of objects)."""
        faults = [Fault.from_spec(item) for item in (spec if isinstance(spec, list) else [spec])]
        with self._lock:
            self._pending = [fault for fault in faults if fault.count]

    def add(self, fault: Fault) -> None:
        with self._lock:
            if fault.count:
                self._pending.append(fault)

    def take(self, method: str = "") -> Fault | None:
        """The fault this call must answer with, if one is pending for it."""
        with self._lock:
            for fault in self._pending:
                if fault.method and fault.method != method:
                    continue
                if fault.after:
                    fault.after -= 1
                    return None
                fault.count -= 1
                if not fault.count:
                    self._pending.remove(fault)
                return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
