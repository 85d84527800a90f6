"""A Splunk HTTP Event Collector look-alike: `/services/collector/event` (and its alias
`/services/collector`), `Authorization: Splunk <token>`, envelopes concatenated back to back,
HEC's answers and codes (docs.splunk "Troubleshoot HTTP Event Collector")."""

from __future__ import annotations

import json

from tests.receivers.http import HttpReceiver

PATHS = ("/services/collector/event", "/services/collector")
_decoder = json.JSONDecoder()


def split_envelopes(text: str) -> list:
    """The JSON objects of a HEC batch (no array, no commas between them)."""
    items, index = [], 0
    while True:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        if index >= len(text):
            return items
        item, index = _decoder.raw_decode(text, index)
        items.append(item)


def envelope_problem(item) -> tuple[int, str] | None:
    """HEC's (code, text) for a bad envelope, or None."""
    if not isinstance(item, dict):
        return 6, "Invalid data format"
    if "event" not in item:
        return 12, "Event field is required"
    if item["event"] in ("", None, {}, []):
        return 13, "Event field cannot be blank"
    if "time" in item and not isinstance(item["time"], (int, float)):
        return 6, "Invalid data format"
    for key in ("host", "source", "sourcetype", "index"):
        if key in item and not isinstance(item[key], str):
            return 6, "Invalid data format"
    if "fields" in item and not (
        isinstance(item["fields"], dict)
        and all(not isinstance(v, (dict, list)) for v in item["fields"].values())
    ):
        return 6, "Invalid data format"
    return None


class HecReceiver(HttpReceiver):
    """`HecReceiver("token")`; `received` holds the accepted envelopes (dicts), one per event."""

    def __init__(self, token: str, **kwargs):
        super().__init__(**kwargs)
        self.token = token

    def handle(self, method, path, headers, body):
        if path.split("?")[0].rstrip("/") not in PATHS:
            return 404, {"text": "The requested URL was not found on this server.", "code": 404}
        auth = headers.get("authorization", "")
        if not auth:
            return self._reject(401, 2, "Token is required", headers, body)
        scheme, _, token = auth.partition(" ")
        if scheme != "Splunk":
            return self._reject(401, 3, "Invalid authorization", headers, body)
        if token != self.token:
            return self._reject(403, 4, "Invalid token", headers, body)
        if not body.strip():
            return self._reject(400, 5, "No data", headers, body)
        try:
            items = split_envelopes(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self._reject(400, 6, "Invalid data format", headers, body)
        for number, item in enumerate(items):
            problem = envelope_problem(item)
            if problem:
                code, text = problem
                self.rejected.add((text, headers, body))
                return 400, {"text": text, "code": code, "invalid-event-number": number}
        for item in items:
            self.inbox.add(item)
        return 200, {"text": "Success", "code": 0}

    def _reject(self, status, code, text, headers, body):
        self.rejected.add((text, headers, body))
        return status, {"text": text, "code": code}
