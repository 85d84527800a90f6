"""Masking secrets in events before they are stored.

Two kinds of rules, both configurable (settings AUDIT_REDACTION_*):
- key rules: the value under a sensitive key (Authorization, Cookie, password, api_key, ...)
  is replaced whole, whatever its type;
- value rules: a secret-looking substring anywhere (bearer credentials, JWTs, private keys,
  well-known API key formats) is replaced in place.

Hot path: the event's JSON text is scanned once for every rule's literal hint at the same time
(Hyperscan, a compiled multi-pattern matcher: ~0.7 us for a 1 KB event where 31 Python substring
scans took ~18 us, half of all validation); only an event that may hold a secret is walked in
Python (most events hold none). Without the hyperscan wheel (a platform it is not built for) the
same hints are checked with Python substring scans: same decisions, slower.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

try:  # optional accelerator; see the module docstring
    import hyperscan
except ImportError:  # pragma: no cover - exercised by the fallback test with a forced None
    hyperscan = None

from django.conf import settings

MASK = "[REDACTED]"

# Normalised key (lower case, '-' -> '_') equal to one of these, or ending with one of the
# suffixes, is sensitive. "progressToken"/"max_tokens" are not secrets, so no bare "token" suffix.
SENSITIVE_KEYS = {
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "x_api_key",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "bearer",
    "private_key",
    "session_token",
    "x_auth_token",
    "credentials",
}
SENSITIVE_SUFFIXES = (
    "password",
    "secret",
    "_token",
    "apikey",
    "api_key",
    "private_key",
    "authorization",
    "cookie",
)

VALUE_RULES = {
    "private_key": (
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "auth_header": r"\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    "openai_key": r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "password_in_url": r"(?<=://)[^/\s:@\"]+:[^/\s@\"]+(?=@)",
    # "Cookie: sid=..." / "X-Api-Key: ..." inside free text (logs, curl lines, error messages)
    "header_in_text": r"(?<=[^\w-])(?i:authorization|proxy-authorization|cookie|set-cookie|"
    r"x-api-key|api-key)\s*:\s*[^\r\n\"']+",
    # ?password=...&access_token=... in URLs and form bodies
    "secret_parameter": r"(?<=[?&;\s])(?i:password|passwd|pwd|secret|client_secret|token|"
    r"access_token|refresh_token|id_token|api_key|apikey|key|sig)=[^&\s\"'#]+",
}


# Cheap prefilter: a built-in value rule can only match if one of these substrings occurs
# in the lower-cased JSON text (password_in_url has its own literal-prefixed regex).
VALUE_LITERALS = (
    "eyj",
    "akia",
    "asia",
    "gho_",
    "ghp_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "sk-",
    "xox",
    "aiza",
    "-----begin",
    "bearer",
    "basic",
    "authorization",
    "cookie",
    "api-key",
    "key=",
    "sig=",
)
URL_PASSWORD_HINT = re.compile(r"://[^/\s:@\"]+:[^/\s@\"]+@")


@lru_cache(maxsize=1)
def _rules():
    disabled = set(settings.AUDIT_REDACTION_DISABLED_RULES)
    rules = {name: rx for name, rx in VALUE_RULES.items() if name not in disabled}
    custom = {f"custom_{i + 1}": rx for i, rx in enumerate(settings.AUDIT_REDACTION_EXTRA_PATTERNS)}
    rules.update(custom)
    compiled = [(name, re.compile(rx, re.DOTALL)) for name, rx in rules.items()]
    custom_hint = (
        re.compile("|".join(f"(?:{rx})" for rx in custom.values()), re.DOTALL) if custom else None
    )
    keys = (
        set()
        if "sensitive_keys" in disabled
        else SENSITIVE_KEYS
        | {k.lower().replace("-", "_") for k in settings.AUDIT_REDACTION_EXTRA_KEYS}
    )
    suffixes = () if "sensitive_keys" in disabled else SENSITIVE_SUFFIXES
    # A sensitive key can only occur if one of these does (snake, kebab or camel case).
    words = {
        form
        for k in (*keys, *suffixes)
        for form in (k.strip("_"), k.strip("_").replace("_", "-"), k.replace("_", ""))
    }
    words |= set(VALUE_LITERALS)
    # Drop literals that contain a shorter one ("access_token" is covered by "token").
    literals = tuple(sorted(w for w in words if not any(o != w and o in w for o in words)))
    return compiled, custom_hint, keys, suffixes, literals


def has_custom_patterns() -> bool:
    """Are custom value patterns configured (AUDIT_REDACTION_EXTRA_PATTERNS)?"""
    return _rules()[1] is not None


def reset_rules_cache() -> None:
    """Forget compiled rules (tests that change the settings call this)."""
    _rules.cache_clear()
    _matcher.cache_clear()


NOT_SENSITIVE = {"progress_token", "max_tokens", "total_tokens", "input_tokens", "output_tokens"}
CAMEL = re.compile(r"([a-z0-9])([A-Z])")


@lru_cache(maxsize=4096)
def _normal_key(key: str) -> str:
    """camelCase / kebab-case / any case -> snake_case (keys repeat: cached, it was a regex
    substitution per key of every walked event)."""
    return CAMEL.sub(r"\1_\2", key).lower().replace("-", "_")


def _is_sensitive_key(key: str, keys, suffixes) -> bool:
    norm = _normal_key(key)
    return norm not in NOT_SENSITIVE and (norm in keys or norm.endswith(suffixes))


# "sk-" occurs inside ordinary words and ids ("task-1", "disk-2"): the openai_key rule only
# matches it at a word start, so a literal hit is confirmed by this before walking the event.
OPENAI_HINT = re.compile(r"\bsk-")


def may_need_redaction(json_text: bytes | str) -> bool:
    """Cheap test on the serialized event: could any rule match? (False positives are fine.)"""
    data = json_text.encode() if isinstance(json_text, str) else json_text
    scan = _matcher() or _scan_hints_slow
    other_hint, sk_hint = scan(data)
    if other_hint:
        return True
    custom_hint = _rules()[1]
    if not (sk_hint or custom_hint):
        return False
    text = data.decode("utf-8", "surrogatepass")
    return bool(
        (sk_hint and OPENAI_HINT.search(text)) or (custom_hint and custom_hint.search(text))
    )


def _scan_hints_slow(data: bytes) -> tuple[bool, bool]:
    """(a hint other than "sk-" occurs, "sk-" occurs), with Python substring scans."""
    literals = _rules()[4]
    text = data.decode("utf-8", "surrogatepass")
    lower = text.lower()
    other = any(lit in lower for lit in literals if lit != "sk-") or bool(
        URL_PASSWORD_HINT.search(text)
    )
    return other, "sk-" in lower


@lru_cache(maxsize=1)
def _matcher():
    """The same scan as _scan_hints_slow in one Hyperscan pass: every literal hint (caseless)
    and the URL-password hint in one database. None without the hyperscan wheel."""
    if hyperscan is None:
        return None
    literals = _rules()[4]
    expressions = [re.escape(lit).encode() for lit in literals] + [
        URL_PASSWORD_HINT.pattern.encode()
    ]
    sk_id = literals.index("sk-") if "sk-" in literals else -1
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(literals)
        + [hyperscan.HS_FLAG_SINGLEMATCH],
    )
    prototype = hyperscan.Scratch(database)
    local = threading.local()  # a scratch space serves one scan at a time: one per thread

    def scan(data: bytes) -> tuple[bool, bool]:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = prototype.clone()
        hits = []  # SINGLEMATCH: at most one report per hint
        database.scan(data, match_event_handler=lambda i, *_: hits.append(i), scratch=scratch)
        return any(i != sk_id for i in hits), sk_id in hits

    return scan


def redact(event: dict) -> list[dict]:
    """Mask secrets in `event` in place (never its top-level id); returns what was masked."""
    compiled, custom_hint, keys, suffixes, _ = _rules()
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
        if (
            isinstance(value, str)
            and len(value) > 7
            and (
                custom_hint
                or "://" in value
                or any(map(value.lower().__contains__, VALUE_LITERALS))
            )
        ):
            for name, rx in compiled:
                value, n = rx.subn(f"[REDACTED:{name}]", value)
                if n:
                    notes.append({"path": path, "rule": name})
        return value

    walk(event, "")
    return notes
