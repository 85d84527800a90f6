"""Secret-like members of fetched metadata documents, masked before they are stored.

Why: a Client ID Metadata Document or a server's OAuth metadata is public by design, so a
secret in one (a `client_secret`, a token, the private half of a JWK) is already exposed and
must be flagged; but storing it verbatim would also serve it to every Viewer through the
document pages and the API. So the stored copy carries, in the secret's place, a keyed hash
of it (HMAC-SHA256 under SECRET_KEY, truncated): a changed secret still changes the document
(a new version, a diff line), while the value cannot be read back or brute-forced offline
from the stored hash. Pure apart from reading the key.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

from django.conf import settings

# Member names (lower case, '-' as '_') that hold a secret wherever they appear.
SECRET_NAMES = {
    "client_secret",
    "secret",
    "password",
    "passwd",
    "access_token",
    "refresh_token",
    "id_token",
    "registration_access_token",
    "api_key",
    "apikey",
    "private_key",
    "token",
    "bearer_token",
}
SECRET_SUFFIXES = (
    "_secret",
    "_password",
    "_api_key",
    "_private_key",
    "_access_token",
    "_refresh_token",
)
# Private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4): RSA/EC `d`, RSA factors and CRT
# values, a symmetric key's `k`. A JWK is any object with a `kty`.
JWK_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MASK_PREFIX = "[masked hmac-sha256:"


def is_secret_name(name: str) -> bool:
    norm = name.lower().replace("-", "_")
    return norm in SECRET_NAMES or norm.endswith(SECRET_SUFFIXES)


def mask_value(value, key: bytes | None = None) -> str:
    """The marker stored in a secret's place: stable for the same value, different otherwise."""
    key = key if key is not None else settings.SECRET_KEY.encode()
    text = json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
    return f"{MASK_PREFIX}{hmac.new(key, text, hashlib.sha256).hexdigest()[:16]}]"


def _is_masked(value) -> bool:
    return isinstance(value, str) and value.startswith(MASK_PREFIX)


def _walk(value, path: str, on_secret) -> None:
    """Call on_secret(container, name, path) for every unmasked, non-empty secret member."""
    if isinstance(value, dict):
        jwk = "kty" in value
        for name, member in list(value.items()):
            sub = f"{path}.{name}" if path else str(name)
            secret = is_secret_name(str(name)) or (jwk and name in JWK_PRIVATE_MEMBERS)
            if secret and member not in (None, "") and not _is_masked(member):
                on_secret(value, name, sub)
            else:
                _walk(member, sub, on_secret)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", on_secret)


def find_secrets(document) -> list[str]:
    """Paths (`jwks.keys[0].d`) of the secret members in a JSON document, in document order."""
    found = []
    _walk(document, "", lambda _container, _name, path: found.append(path))
    return found


def mask_secrets(document, key: bytes | None = None):
    """(a copy of `document` with every secret member masked, the paths masked); the document
    itself when there is nothing to mask."""
    if not find_secrets(document):
        return document, []
    masked, paths = copy.deepcopy(document), []

    def mask(container, name, path):
        container[name] = mask_value(container[name], key)
        paths.append(path)

    _walk(masked, "", mask)
    return masked, paths
