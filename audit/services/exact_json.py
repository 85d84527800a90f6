"""JSON numbers kept exactly as sent on the Python path of the ingest (an audit record).

The compiled fast path stores an event's text as sent. The Python path parses the event and
writes it again, so a number the parser cannot hold would come out changed: an integer beyond
64 bits (orjson rounds it to a float, and cannot write it), or a number beyond a double's range
(`1e400` reads as infinity, which orjson writes as `null`; `1e-400` as `0.0`). Such text is
parsed by the stdlib with `read_float` (audit/ingest_parse.py), and `dumps` writes both back
exactly, so the two paths store the same text.
"""

from __future__ import annotations

import orjson

_INFINITIES = (float("inf"), float("-inf"))
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson writes as an integer


class ExactFloat(float):
    """A number a double cannot hold, with its JSON text: checks see the float (infinity or
    zero, so a duration of 1e400 is refused by name), the stored event gets the text."""

    __slots__ = ("text",)

    def __new__(cls, value: float, text: str):
        number = super().__new__(cls, value)
        number.text = text
        return number


def read_float(text: str) -> float:
    """The stdlib's `parse_float`: a float, or an ExactFloat when reading it loses the number
    (overflow to infinity, or underflow to zero of a mantissa that is not zero)."""
    value = float(text)
    if value in _INFINITIES:
        return ExactFloat(value, text)
    if value == 0.0 and text.lower().partition("e")[0].strip("-+0."):
        return ExactFloat(value, text)
    return value


def _as_text(value):
    """orjson's `default`: an ExactFloat is written as its text (orjson does not write float
    subclasses itself)."""
    if type(value) is ExactFloat:
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _big_ints_as_text(value):
    """A copy of `value` with every integer orjson cannot write as a Fragment of its digits."""
    if type(value) is dict:
        return {key: _big_ints_as_text(item) for key, item in value.items()}
    if type(value) is list:
        return [_big_ints_as_text(item) for item in value]
    if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        return orjson.Fragment(str(value))
    return value


def dumps(event: dict) -> bytes:
    """orjson.dumps, with ExactFloats and integers beyond 64 bits written as sent. Raises
    orjson.JSONEncodeError (a TypeError) for what cannot be written (a lone surrogate, nesting
    beyond 255 levels) and RecursionError for nesting too deep to copy."""
    try:
        return orjson.dumps(event, default=_as_text)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise
        return orjson.dumps(_big_ints_as_text(event), default=_as_text)
