"""Reading a native ingest body (a JSON array, {"events": [...]} or NDJSON) into events.

Bad input is refused per event wherever the body as a whole is readable JSON: an event that is
valid JSON but that no parser here reads (nested thousands of levels deep, an integer of more
than 4,300 digits, Python's limit on reading one) is rejected alone and its neighbours are
stored. Only a body that is not JSON at all (or not UTF-8) is a 400.

Events the compiled fast path accepts arrive as FastEvents, the others as Python objects for
the checks of audit/services/validation.py; a rejected event's place holds None and its
(index, field, message) is in the second list.
"""

from __future__ import annotations

import json
import re
import sys

import orjson

from audit.http_body import BodyError
from audit.services import fast_validation
from audit.services.exact_json import read_float
from audit.services.validation import NESTED_TOO_DEEP, Limits

NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json-seq",
}
NOT_A_BATCH = 'Body must be a JSON array of events or {"events": [...]}.'
# orjson reads an integer beyond 64 bits as a rounded float, and a number below a double's
# range (1e-400) as 0.0, silently; an audit record must keep what was sent. Nineteen digits in
# a row, or a number with a three-digit negative exponent, are the cheap sign that text may
# hold one (a false positive only costs the stdlib's slower parser, which keeps integers exact
# and, through read_float, such numbers' text). A number beyond a double's range the other way
# (1e400) orjson refuses, which sends the text to the stdlib anyway.
_INEXACT_NUMBER = re.compile(rb"[0-9]{19}|[:,\[][ \t\n\r]*-?[0-9.]+[eE]-[0-9]{3}")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # the stdlib would accept NaN and Infinity


def exact_loads(data: bytes):
    """JSON text as Python objects with every integer exact; ValueError or RecursionError for
    text that is not JSON or too hard to read."""
    if _INEXACT_NUMBER.search(data):
        return json.loads(data, parse_float=read_float, parse_constant=_refuse_constant)
    return orjson.loads(data)


def unreadable_reason(exc: BaseException) -> str | None:
    """Why valid JSON could not be read, or None when `exc` means it is not JSON."""
    if isinstance(exc, RecursionError):
        return NESTED_TOO_DEEP
    if isinstance(exc, ValueError) and "int_max_str_digits" in str(exc):
        return (
            f"holds an integer of more than {sys.get_int_max_str_digits()} digits, "
            "which cannot be read exactly"
        )
    return None


def _stdlib_loads(data: bytes):
    """The stdlib reads what orjson refuses but is JSON (a `\\ud800` escape, nesting beyond
    orjson's limit, a number beyond a double's range: kept as sent by read_float).
    UnicodeDecodeError for non-UTF-8."""
    return json.loads(data.decode("utf-8"), parse_float=read_float, parse_constant=_refuse_constant)


def load_event(raw: bytes, *, line: bool = False) -> tuple[object, tuple[str, str] | None]:
    """(the event as Python objects, None), or (None, (field, why)) for one it rejects.

    An array element (`line` false) is known to be JSON (the body was checked as a whole) and
    bytes that are not UTF-8 fail the body (BodyError 400, like any non-UTF-8 body); an NDJSON
    line that is not JSON is rejected alone under "line"."""
    try:
        return exact_loads(raw), None
    except (ValueError, RecursionError):
        pass
    try:
        return _stdlib_loads(raw), None
    except UnicodeDecodeError as exc:
        if not line:
            raise BodyError(400, f"Body is not valid UTF-8 JSON: {exc}") from None
        return None, ("line", f"is not valid UTF-8 JSON: {exc}")
    except (ValueError, RecursionError) as exc:
        reason = unreadable_reason(exc)
        if reason:
            return None, ("event", reason)
        return None, ("line" if line else "event", f"is not valid JSON: {exc}")


def parse(body: bytes, media_type: str, limits: Limits) -> tuple[list, list]:
    """(events, rejects) of a request body; rejects are (index, field, message)."""
    if media_type in NDJSON_TYPES:
        raws = [line for line in (raw.strip() for raw in body.split(b"\n")) if line]
    else:
        raws = fast_validation.split(body)
        if raws is None:  # not a plain batch for msgspec (too deep for it, not JSON, ...)
            data, raws = _parse_whole(body)
            if raws is None:
                return data, []
    events, rejects = [], []
    for index, raw in enumerate(raws):
        event = fast_validation.accept(raw, limits)
        if event is None:
            event, problem = load_event(raw, line=media_type in NDJSON_TYPES)
            if problem:
                rejects.append((index, *problem))
        events.append(event)
    return events, rejects


def _parse_whole(body: bytes) -> tuple[list | None, list | None]:
    """(events, None) parsed whole, or (None, raw event texts) when the body is valid JSON
    that holds an event too hard to read; BodyError 400 when the body is not JSON."""
    try:
        data = exact_loads(body)
    except (ValueError, RecursionError):
        try:
            data = _stdlib_loads(body)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            if unreadable_reason(exc) is None:
                raise BodyError(400, f"Body is not valid UTF-8 JSON: {exc}") from None
            return None, split_batch(body)
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return data["events"], None
    if isinstance(data, list):
        return data, None
    raise BodyError(400, NOT_A_BATCH)


# One JSON token after optional whitespace: an opening or closing bracket, a comma, a colon,
# a string (strictly: escapes, no control characters) or a scalar.
_TOKEN = re.compile(
    rb"[ \t\n\r]*(?:([\[{])|([\]}])|(,)|(:)|"
    rb'("(?:[^"\\\x00-\x1f]+|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")'
    rb"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null))"
)
_OPEN, _CLOSE, _COMMA, _COLON, _STRING, _SCALAR = range(1, 7)
_WHITESPACE = re.compile(rb"[ \t\n\r]*")


def split_batch(body: bytes) -> list[bytes]:
    """The raw JSON texts of a batch's events, checking the whole body's JSON grammar without
    recursion (so any depth) and without reading numbers; BodyError 400 if it is not JSON."""
    bounds: list[int] = []  # offsets of the events array's brackets and commas
    stack: list[bytes] = []
    events_depth, key, expect, pos, prev_open = 0, b"", "value", 0, False
    while True:
        match = _TOKEN.match(body, pos)
        if match is None:
            break
        kind, text, pos = match.lastindex, match.group(match.lastindex), match.end()
        if expect == "key":
            if kind != _STRING and not (kind == _CLOSE and text == b"}" and prev_open):
                break
            if kind == _STRING:
                key, expect = text, "colon"
                continue
        elif expect == "colon":
            if kind != _COLON:
                break
            expect, prev_open = "value", False
            continue
        elif expect == "value":
            if kind == _CLOSE and text == b"]" and prev_open:
                pass  # an empty array
            elif kind in (_OPEN, _STRING, _SCALAR):
                if kind == _OPEN:
                    stack.append(text)
                    if text == b"[" and (
                        len(stack) == 1
                        or (len(stack) == 2 and stack[0] == b"{" and key == b'"events"')
                    ):
                        events_depth, bounds = len(stack), [pos - 1]
                    prev_open, expect = True, "key" if text == b"{" else "value"
                    continue
                expect = "after"
                if not stack:
                    break
                continue
            else:
                break
        if kind == _COMMA and expect == "after":
            if len(stack) == events_depth:
                bounds.append(pos - 1)
            expect, prev_open = ("key" if stack[-1] == b"{" else "value"), False
            continue
        if kind != _CLOSE or not stack or (text == b"]") != (stack[-1] == b"["):
            break
        if len(stack) == events_depth:
            bounds.append(pos - 1)
            events_depth = -1  # closed: a later "events" key may open another
        stack.pop()
        expect = "after"
        if not stack:
            break
    if stack or expect != "after" or _WHITESPACE.match(body, pos).end() != len(body):
        raise BodyError(400, f"Body is not valid UTF-8 JSON: unexpected input at byte {pos}.")
    if len(bounds) < 2 or events_depth != -1:
        raise BodyError(400, NOT_A_BATCH)
    return [
        body[start + 1 : end].strip(b" \t\n\r")
        for start, end in zip(bounds, bounds[1:])
        if body[start + 1 : end].strip(b" \t\n\r")
    ]
