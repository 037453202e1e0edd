"""A listener registry in bolt's shape, without bolt: `@router.event("message", subtype=…)`
and `@router.action(action_id)`. Listeners run synchronously and only build jobs (the
dispatcher does the work), so the order Slack sent things in is the order they are queued."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from refdesk.errors import BadRequest
from refdesk.models import Job

EventListener = Callable[[dict, dict], Job | None]  # (event, envelope) -> job
ActionListener = Callable[[dict, dict], Job | None]  # (action, payload) -> job


@dataclass
class Router:
    _events: dict[tuple[str, str | None], EventListener] = field(default_factory=dict)
    _actions: dict[str, ActionListener] = field(default_factory=dict)

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
