"""A listener registry in bolt's shape, without bolt: `@router.event("message", subtype=…)`,
`@router.action(action_id)`, `@router.view(callback_id)` (a modal's view_submission) and
`@router.modal(action_id)` (an element that opens a modal). Listeners run synchronously and
only build jobs (the dispatcher does the work), so the order Slack sent things in is the order
they are queued."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from refdesk.errors import BadRequest
from refdesk.models import Job

EventListener = Callable[[dict, dict], Job | None]  # (event, envelope) -> job
ActionListener = Callable[[dict, dict], Job | None]  # (action, payload) -> job
ViewListener = Callable[[dict, dict], Job | None]  # (view, payload) -> job, for a view_submission
ModalOpener = Callable[[dict, dict], dict | None]  # (action, payload) -> the modal to open at once


@dataclass
class Router:
    _events: dict[tuple[str, str | None], EventListener] = field(default_factory=dict)
    _actions: dict[str, ActionListener] = field(default_factory=dict)
    _views: dict[str, ViewListener] = field(default_factory=dict)
    _modals: dict[str, ModalOpener] = field(default_factory=dict)

    def event(self, event_type: str, subtype: str | None = None):
        def register(listener: EventListener) -> EventListener:
            self._events[(event_type, subtype)] = listener
            return listener
        return register

    def action(self, action_id: str):
        def register(listener: ActionListener) -> ActionListener:
            self._actions[action_id] = listener
            return listener
        return register

    def view(self, callback_id: str):
        """A view_submission listener, by the modal's callback_id."""
        def register(listener: ViewListener) -> ViewListener:
            self._views[callback_id] = listener
            return listener
        return register

    def modal(self, action_id: str):
        """An action that opens a modal: the listener returns the view to open with the payload's
        trigger_id, which Slack honours for 3 s only, so the webhook opens it itself (the one
        exception to "webhooks only enqueue"; see functions/slack_interactions)."""
        def register(opener: ModalOpener) -> ModalOpener:
            self._modals[action_id] = opener
            return opener
        return register

    def modal_for_interaction(self, payload: dict) -> tuple[str, dict] | None:
        """(trigger_id, view) when a block_actions payload presses a modal-opening element."""
        if payload.get("type") != "block_actions" or not self._modals:
            return None
        actions = payload.get("actions")
        if not isinstance(actions, list):
            raise BadRequest("block_actions without a list of actions")
        for action in actions:
            opener = self._modals.get(action.get("action_id")) if isinstance(action, dict) else None
            view = opener(action, payload) if opener else None
            if view:
                trigger_id = payload.get("trigger_id")
                if not isinstance(trigger_id, str) or not trigger_id:
                    raise BadRequest("block_actions without a trigger_id")
                return trigger_id, view
        return None

    def job_for_view(self, payload: dict) -> Job | None:
        """The job for a view_submission, by its view's callback_id; None for modals RefDesk
        has no listener for."""
        view = payload.get("view")
        if not isinstance(view, dict):
            raise BadRequest("view_submission without a view")
        listener = self._views.get(view.get("callback_id")) if isinstance(view.get("callback_id"), str) else None
        return listener(view, payload) if listener else None

    def job_for_event(self, envelope: dict) -> Job | None:
        """The job for an event_callback, or None when no listener wants it. Bots (RefDesk
        itself included) are ignored here, before any work."""
        event = envelope.get("event")
        if not isinstance(event, dict) or not envelope.get("event_id"):
            raise BadRequest("event_callback without event or event_id")
        if event.get("bot_id"):
            return None
        listener = self._events.get((event.get("type"), event.get("subtype")))
        return listener(event, envelope) if listener else None

    def job_for_interaction(self, payload: dict) -> Job | None:
        """The job for the first action with a listener in a block_actions payload."""
        if payload.get("type") != "block_actions":
            return None
        actions = payload.get("actions")
        if not isinstance(actions, list):
            raise BadRequest("block_actions without a list of actions")
        for action in actions:
            listener = self._actions.get(action.get("action_id")) if isinstance(action, dict) else None
            job = listener(action, payload) if listener else None
            if job:
                return job
        return None


router = Router()
