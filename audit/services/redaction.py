"""Masking secrets in events before they are stored.

Two kinds of rules, both configurable (settings AUDIT_REDACTION_*):
- key rules: the value under a sensitive key (Authorization, Cookie, password, api_key, ...)
  is replaced whole, whatever its type;
- value rules: a secret-looking substring anywhere (bearer credentials, JWTs, private keys,
  well-known API key formats) is replaced in place.

Hot path: the event's JSON text is scanned once with two compiled regexes; only an event that
may hold a secret is walked in Python (most events hold none).
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings

MASK = "[REDACTED]"

# Normalised key (lower case, '-' -> '_') equal to one of these, or ending with one of the
# suffixes, is sensitive. "progressToken"/"max_tokens" are not secrets, so no bare "token" suffix.
SENSITIVE_KEYS = {
    "authorization", "proxy_authorization", "cookie", "set_cookie", "password", "passwd", "pwd",
    "secret", "client_secret", "api_key", "apikey", "x_api_key", "access_token", "refresh_token",
    "id_token", "token", "bearer", "private_key", "session_token", "x_auth_token", "credentials",
}
SENSITIVE_SUFFIXES = ("password", "secret", "_token", "apikey", "api_key", "private_key",
                      "authorization", "cookie")

VALUE_RULES = {
    "private_key": r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "auth_header": r"\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    "openai_key": r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "password_in_url": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
}


@lru_cache(maxsize=1)
def _rules():
    disabled = set(settings.AUDIT_REDACTION_DISABLED_RULES)
    rules = {name: rx for name, rx in VALUE_RULES.items() if name not in disabled}
    for i, rx in enumerate(settings.AUDIT_REDACTION_EXTRA_PATTERNS):
        rules[f"custom_{i + 1}"] = rx
    compiled = [(name, re.compile(rx, re.DOTALL)) for name, rx in rules.items()]
    combined = re.compile("|".join(f"(?:{rx})" for rx in rules.values()), re.DOTALL) if rules else None
    keys = set() if "sensitive_keys" in disabled else SENSITIVE_KEYS | {
        k.lower().replace("-", "_") for k in settings.AUDIT_REDACTION_EXTRA_KEYS}
    suffixes = () if "sensitive_keys" in disabled else SENSITIVE_SUFFIXES
    # Prefilter for key rules on the JSON text: any key containing a sensitive word.
    words = sorted({*keys, *(s.strip("_") for s in suffixes)})
    key_hint = re.compile("(?i)" + "|".join(re.escape(w).replace("_", "[-_]?") for w in words)) if words else None
    return compiled, combined, keys, suffixes, key_hint


def reset_rules_cache() -> None:
    """Forget compiled rules (tests that change the settings call this)."""
    _rules.cache_clear()


def _is_sensitive_key(key: str, keys, suffixes) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in keys or norm.endswith(suffixes)


def may_need_redaction(json_text: str) -> bool:
    """Cheap test on the serialized event: could any rule match?"""
    _, combined, _, _, key_hint = _rules()
    return bool((combined and combined.search(json_text)) or (key_hint and key_hint.search(json_text)))


def redact(event: dict) -> list[dict]:
    """Mask secrets in `event` in place (never its top-level id); returns what was masked."""
    compiled, _, keys, suffixes, _ = _rules()
    notes: list[dict] = []

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                sub = f"{path}.{k}" if path else str(k)
                if path == "" and k == "id":
                    continue
                if _is_sensitive_key(str(k), keys, suffixes) and v not in (None, "", MASK):
                    value[k] = MASK
                    notes.append({"path": sub, "rule": "sensitive_key"})
                else:
                    value[k] = walk(v, sub)
            return value
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str):
            for name, rx in compiled:
                value, n = rx.subn(f"[REDACTED:{name}]", value)
                if n:
                    notes.append({"path": path, "rule": name})
        return value

    walk(event, "")
    return notes
