"""A listener registry in bolt's shape, without bolt: `@router.event("message", subtype=…)`,
`@router.action(action_id)`, `@router.view(callback_id)` (a modal's view_submission) and
`@router.modal(action_id)` (an element that opens a modal). Listeners run synchronously and
only build jobs (the dispatcher does the work), so the order Slack sent things in is the order
they are queued.

Each registration declares the shape its payload must have (refdesk.slack.payloads): the router
checks it before the listener runs, so listeners read fields without checking their types, and
a payload of another shape is a BadRequest (400). Actions and views are staff's unless
registered `staff=False` (a Slack Connect patron's rating and its comment): the router lets only the library's
own team through (refdesk.staff), records the verified team in the job, and answers anyone else
with a StaffOnlyJob, which tells them so and does nothing else."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from refdesk import staff
from refdesk.errors import BadRequest
from refdesk.models import ByStaff, Job, StaffOnlyJob
from refdesk.shapes import check
from refdesk.slack import payloads

EventListener = Callable[[dict, dict], Job | None]  # (event, envelope) -> job
ActionListener = Callable[[dict, dict], Job | None]  # (action, payload) -> job
ViewListener = Callable[[dict, dict], Job | None]  # (view, payload) -> job, for a view_submission
ModalOpener = Callable[[dict, dict], dict | None]  # (action, payload) -> the modal to open at once


class ViewErrors(Exception):
    """A modal submitted with fields to fix: Slack shows each message under its block
    (`response_action: errors`, answered by functions/slack_interactions) and keeps the modal open."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("fields to fix")
        self.errors = errors


@dataclass(frozen=True)
class _Listener:
    function: Callable
    shape: Any = dict
    staff: bool = True


@dataclass
class Router:
    _events: dict[tuple[str, str | None], _Listener] = field(default_factory=dict)
    _actions: dict[str, _Listener] = field(default_factory=dict)
    _views: dict[str, _Listener] = field(default_factory=dict)
    _modals: dict[str, _Listener] = field(default_factory=dict)

    def event(self, event_type: str, subtype: str | None = None, *, shape: Any = dict):
        def register(listener: EventListener) -> EventListener:
            self._events[(event_type, subtype)] = _Listener(listener, shape)
            return listener
        return register

    def action(self, action_id: str, *, shape: Any = payloads.Action, staff: bool = True):
        def register(listener: ActionListener) -> ActionListener:
            self._actions[action_id] = _Listener(listener, shape, staff)
            return listener
        return register

    def view(self, callback_id: str, *, staff: bool = True):
        """A view_submission listener, by the modal's callback_id."""
        def register(listener: ViewListener) -> ViewListener:
            self._views[callback_id] = _Listener(listener, staff=staff)
            return listener
        return register

    def modal(self, action_id: str, *, staff: bool = True):
        """An action that opens a modal: the listener returns the view to open with the payload's
        trigger_id, which Slack honours for 3 s only, so the webhook opens it itself (the one
        exception to "webhooks only enqueue"; see functions/slack_interactions)."""
        def register(opener: ModalOpener) -> ModalOpener:
            self._modals[action_id] = _Listener(opener, staff=staff)
            return opener
        return register

    def modal_for_interaction(self, payload: dict) -> tuple[str, dict] | None:
        """(trigger_id, view) when a block_actions presses a modal-opening element: a staff
        member's, or anyone's for a patron's element (an outsider's press of a staff element is
        refused by job_for_interaction instead)."""
        if payload.get("type") != "block_actions" or not self._modals:
            return None
        check(payload, payloads.BlockActions)
        is_staff = bool(staff.of_interaction(payload))
        for action in payload["actions"]:
            opener = self._modals.get(action["action_id"])
            view = opener.function(action, payload) if opener and (is_staff or not opener.staff) else None
            if view:
                if not payload.get("trigger_id"):
                    raise BadRequest("block_actions without a trigger_id")
                return payload["trigger_id"], view
        return None

    def job_for_view(self, payload: dict) -> Job | None:
        """The job for a view_submission, by its view's callback_id; None for modals RefDesk
        has no listener for, and for anyone outside the library submitting a staff modal (which
        they cannot open)."""
        check(payload, payloads.ViewSubmission)
        listener = self._views.get(payload["view"].get("callback_id", ""))
        team = staff.of_interaction(payload)
        if listener is None or (listener.staff and not team):
            return None
        return _by(listener.function(payload["view"], payload), team)

    def job_for_event(self, envelope: dict) -> Job | None:
        """The job for an event_callback, or None when no listener wants it. Bots (RefDesk
        itself included) are ignored here, before any work."""
        check(envelope, payloads.EventEnvelope, "envelope")
        event = envelope["event"]
        if event.get("bot_id"):
            return None
        listener = self._events.get((event["type"], event.get("subtype")))
        return listener.function(check(event, listener.shape, "event"), envelope) if listener else None

    def job_for_interaction(self, payload: dict) -> Job | None:
        """The job for the first action with a listener in a block_actions payload; for someone
        outside the library pressing a staff element, the job that tells them no."""
        if payload.get("type") != "block_actions":
            return None
        check(payload, payloads.BlockActions)
        team = staff.of_interaction(payload)
        for action in payload["actions"]:
            listener, opener = self._actions.get(action["action_id"]), self._modals.get(action["action_id"])
            if not team and any(found and found.staff for found in (listener, opener)):
                return _refusal(action, payload)
            job = listener.function(check(action, listener.shape, "action"), payload) if listener else None
            if job:
                return _by(job, team)
        return None


def _by(job: Job | None, team: str) -> Job | None:
    """The job with its actor's verified team recorded (staff actions only)."""
    return dataclasses.replace(job, actor_team=team) if isinstance(job, ByStaff) else job


def _refusal(action: dict, payload: dict) -> StaffOnlyJob:
    container, message = payload.get("container") or {}, payload.get("message") or {}
    channel = "" if container.get("type") == "view" else \
        str((payload.get("channel") or {}).get("id") or container.get("channel_id") or "")
    thread_ts = str(container.get("thread_ts") or message.get("thread_ts") or container.get("message_ts") or "")
    return StaffOnlyJob(user=payload["user"]["id"], channel=channel, thread_ts=thread_ts if channel else "",
                        action_ts=str(action.get("action_ts") or ""))


router = Router()
