"""A strict CEF parser (the receivers' and the tests' oracle for our escaping).

pycef, the one on PyPI, refuses header fields holding `\\` or `=` and never unescapes extension
values, so it cannot check a round trip; tests/governance/alerts/test_formats.py still checks
that it reads our plain lines the same way. This one follows the ArcSight guide to the letter
and raises ValueError on anything else (an unescaped `|` in the header, an unknown escape).
"""

from __future__ import annotations

import re

HEADER_FIELDS = ("version", "vendor", "product", "device_version", "signature_id", "name")
_KEY = re.compile(r"(?:^| )([A-Za-z][A-Za-z0-9_]*)=")
_HEADER_ESCAPES = {"\\": "\\", "|": "|"}
_VALUE_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


def _unescape(text: str, escapes: dict[str, str]) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in escapes:
                raise ValueError(f"bad escape at {index} in {text!r}")
            out.append(escapes[text[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _split_header(line: str) -> tuple[list[str], str]:
    """The 7 header fields after `CEF:` (raw) and the extension text."""
    fields, current, index = [], [], 0
    while len(fields) < 7:
        if index >= len(line):
            raise ValueError(f"CEF header has {len(fields)} of 7 fields: {line!r}")
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            current.append(line[index : index + 2])
            index += 2
            continue
        if char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    return fields, line[index:]


def parse_cef(line: str) -> dict:
    """{"version", "vendor", "product", "device_version", "signature_id", "name", "severity",
    "extension": {key: value}} with every escape undone."""
    start = line.find("CEF:")
    if start < 0:
        raise ValueError(f"not a CEF line: {line!r:.200}")
    raw, extension = _split_header(line[start + 4 :])
    parsed = {name: _unescape(value, _HEADER_ESCAPES) for name, value in zip(HEADER_FIELDS, raw)}
    severity = raw[6]
    if not severity.isdigit() or not 0 <= int(severity) <= 10:
        raise ValueError(f"CEF severity is not 0-10: {severity!r}")
    parsed["severity"] = int(severity)
    if "\n" in extension or "\r" in extension:
        raise ValueError("a raw line break in the CEF extension")
    keys = list(_KEY.finditer(extension))
    if extension.strip() and (not keys or keys[0].start() != 0):
        raise ValueError(f"CEF extension does not start with key=: {extension!r:.200}")
    values = {}
    for here, after in zip(keys, keys[1:] + [None]):
        end = after.start() if after else len(extension)
        values[here.group(1)] = _unescape(extension[here.end() : end], _VALUE_ESCAPES)
    parsed["extension"] = values
    return parsed
