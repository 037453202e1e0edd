"""Declarative payload shapes: one TypedDict per kind of payload RefDesk is sent, checked once
where the payload is parsed by `check(value, Shape)`. A value of another shape (a list or an
object where text belongs, a number of 5,000 digits, NaN, a lone UTF-16 surrogate, a ts that is
not a Slack ts) is a BadRequest, a 400, instead of a TypeError or a half-done job further on.

A shape is a TypedDict whose fields are annotated with:
  - str, int, bool: exactly that (a bool is not an int; every str is valid UTF-16: no lone
    surrogates, which JSON can carry and nothing downstream can encode);
  - Annotated[str, Matches(r"…")]: a str matching the whole pattern;
  - Literal["a", "b"]: one of those values;
  - list[X], X | None, another TypedDict, dict (any object), object (anything).
Keys a shape does not declare are allowed and left alone: Slack and Twilio add fields without
notice. NotRequired keys may be missing; when present they must have their shape."""
from __future__ import annotations

import json
import math
import re
import types
from functools import lru_cache
from typing import (Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints,
                    is_typeddict)

from refdesk.errors import BadRequest



class Matches:
    """A constraint on a str field: it matches the whole pattern."""

    def __init__(self, pattern: str):
        self.pattern = re.compile(pattern, re.ASCII)  # \d is 0-9: no full-width or other digits

    def __repr__(self) -> str:
        return f"Matches({self.pattern.pattern!r})"


def check(value: Any, shape: Any, where: str = "payload") -> Any:
    """`value` itself when it has `shape`; else BadRequest naming the first field that does not."""
    problem = _problem(value, shape, where)
    if problem:
        raise BadRequest(problem)
    return value


def conforms(value: Any, shape: Any) -> bool:
    return _problem(value, shape, "value") is None


def is_text(value: Any) -> bool:
    """A str that can be encoded (no lone surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=None)
def _fields(shape: type) -> tuple[tuple[str, Any, bool], ...]:
    # extras: Annotated's constraints, and NotRequired, read from the hint itself because
    # __required_keys__ misses it in annotations postponed as strings (Python 3.12).
    fields = []
    for name, hint in get_type_hints(shape, include_extras=True).items():
        marker = get_origin(hint)
        required = marker is Required or (marker is not NotRequired and name in shape.__required_keys__)
        fields.append((name, get_args(hint)[0] if marker in (NotRequired, Required) else hint, required))
    return tuple(fields)


def _problem(value: Any, shape: Any, where: str) -> str | None:
    if shape is object:
        return None
    if shape is None or shape is type(None):
        return None if value is None else f"{where} must be null"
    if is_typeddict(shape):
        if not isinstance(value, dict):
            return f"{where} must be an object"
        for name, hint, required in _fields(shape):
            if name not in value:
                if required:
                    return f"{where}.{name} is missing"
                continue
            problem = _problem(value[name], hint, f"{where}.{name}")
            if problem:
                return problem
        return None
    origin = get_origin(shape)
    if origin is Annotated:
        base, *constraints = get_args(shape)
        problem = _problem(value, base, where)
        if problem:
            return problem
        for constraint in constraints:
            if isinstance(constraint, Matches) and not constraint.pattern.fullmatch(value):
                return f"{where} is not of the expected form"
        return None
    if origin is Literal:
        return None if any(value == option and type(value) is type(option) for option in get_args(shape)) \
            else f"{where} is not one of {', '.join(map(repr, get_args(shape)))}"
    if origin in (Union, types.UnionType):
        options = get_args(shape)
        problems = [_problem(value, option, where) for option in options]
        return None if any(problem is None for problem in problems) else next(p for p in problems if p)
    if origin is list:
        if not isinstance(value, list):
            return f"{where} must be a list"
        (item,) = get_args(shape)
        return next((p for index, element in enumerate(value) if (p := _problem(element, item, f"{where}[{index}]"))),
                    None)
    if shape is dict:
        return None if isinstance(value, dict) else f"{where} must be an object"
    if shape is str:
        return None if is_text(value) else f"{where} must be text"
    if shape is bool:
        return None if isinstance(value, bool) else f"{where} must be true or false"
    if shape is int:
        return None if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_JSON_INTEGER \
            else f"{where} must be a whole number"
    if shape is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            else f"{where} must be a finite number"
    raise TypeError(f"no shape check for {shape!r}")  # a programming error, caught by the tests


# A UTF-16 surrogate left alone: json.loads joins an escaped pair into one character.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# I-JSON (RFC 7493): the integers every JSON parser reads exactly. No id or count is larger.
MAX_JSON_INTEGER = 2 ** 53 - 1


def parse_json(text: str, what: str = "JSON") -> object:
    """`text` parsed as strict JSON; BadRequest naming `what` for anything else: not JSON, nested
    too deep, NaN or Infinity, a number a float cannot hold (1e999), an integer beyond
    MAX_JSON_INTEGER, or a lone surrogate in any string or key."""
    try:
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite, parse_int=_exact)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"malformed {what}") from exc
    if _holds_lone_surrogate(value):
        raise BadRequest(f"{what} holds a lone UTF-16 surrogate")
    return value


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def _exact(literal: str) -> int:
    if len(literal) > 17 or abs(number := int(literal)) > MAX_JSON_INTEGER:  # no int() of 5,000 digits
        raise ValueError("integer out of range")
    return number


def _holds_lone_surrogate(value) -> bool:
    pending = [value]  # a loop, not recursion: as deep as json.loads went
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
