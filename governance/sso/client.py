"""The console as an OpenID Connect relying party: Authlib's Django client, with every request
it makes (discovery, token, JWKS, userinfo) sent through the safe fetcher (inventory/fetch.py:
https and public addresses only unless FETCH_ALLOWLIST says otherwise, capped, logged).

Authlib checks what the flow needs: the state against the session, the PKCE verifier it keeps
there, the ID token's signature, iss, aud, exp, iat and nonce. The discovery document is
fetched once per process and kept (Authlib re-reads the JWKS when a token names an unknown key).
"""

from __future__ import annotations

import logging
import re
import threading

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from joserfc.errors import JoseError
from requests.structures import CaseInsensitiveDict

from inventory.fetch import FetchError, allows_plain_http, safe_fetch

logger = logging.getLogger(__name__)

NAME = "oidc"
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Headers Authlib sets that the fetcher must pass on; it sets its own User-Agent and Accept.
_PASSED_HEADERS = {"authorization", "content-type"}
# Answers Authlib reads an error from (RFC 6749 §5.2) rather than a bare HTTP failure.
_ANSWERED_STATUSES = (200, 400, 401)


class SignInError(Exception):
    """Company sign-in could not finish; the message is safe to show (no tokens, no secrets)."""


def enabled() -> bool:
    """True when company sign-in is configured (OIDC_ISSUER set)."""
    return bool(settings.OIDC_ISSUER)


class _SafeFetchAdapter(requests.adapters.BaseAdapter):
    """A requests transport that sends through safe_fetch (Authlib's client is requests-based)."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = request.body.encode() if isinstance(request.body, str) else request.body
        headers = {k: v for k, v in request.headers.items() if k.lower() in _PASSED_HEADERS}
        try:
            result = safe_fetch(
                request.url,
                purpose="oidc sign-in",
                method=request.method,
                headers=headers,
                body=body,
                # A token request is not re-sent to wherever a redirect points.
                max_redirects=3 if request.method == "GET" else 0,
                allow_status=_ANSWERED_STATUSES,
                total_timeout=settings.DISCOVERY_FETCH_TIMEOUT,
            )
        except FetchError as exc:
            raise requests.ConnectionError(f"{exc.reason}: {exc.message}") from None
        response = requests.Response()
        response.status_code = result.status_code
        response._content = result.content
        response.headers = CaseInsensitiveDict(result.headers)
        response.url = result.final_url
        response.encoding = "utf-8"
        response.request = request
        return response

    def close(self):
        pass


class _Session(OAuth2Session):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        adapter = _SafeFetchAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)


class _App(DjangoOAuth2App):
    client_cls = _Session


_lock = threading.Lock()
_app: _App | None = None


def oidc_app() -> _App:
    """The Authlib client for the configured issuer, its discovery document loaded and checked."""
    global _app
    with _lock:
        if _app is None:
            _app = _App(
                DjangoIntegration(NAME),
                name=NAME,
                client_id=settings.OIDC_CLIENT_ID,
                client_secret=settings.OIDC_CLIENT_SECRET,
                server_metadata_url=discovery_url(settings.OIDC_ISSUER),
                client_kwargs={"scope": settings.OIDC_SCOPES, "code_challenge_method": "S256"},
            )
        app = _app
    try:
        _check_metadata(_load_metadata(app))
    except SignInError:
        _forget_client(setting="OIDC_ISSUER")  # read the document again next time
        raise
    return app


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def _load_metadata(app: _App) -> dict:
    try:
        return app.load_server_metadata()  # once: Authlib keeps it (not a failure)
    except (requests.RequestException, ValueError) as exc:
        # The page is shown to anyone: it names the kind of failure, the log has the details
        # (addresses the IdP's name resolves to...).
        logger.warning("OIDC discovery at %s failed: %s", discovery_url(settings.OIDC_ISSUER), exc)
        raise SignInError(
            f"the IdP's discovery document could not be read ({_kind(exc)}); the console's log "
            "says why"
        ) from None


def _kind(exc: Exception) -> str:
    """The fetcher's reason code (`blocked_address`, `timeout`...), else the exception's class."""
    reason = str(exc).split(":", 1)[0]
    return reason if _ERROR_CODE.fullmatch(reason) else type(exc).__name__


def _check_metadata(metadata: dict) -> None:
    """OIDC Discovery §4.3: the document's issuer is the configured one; the browser is only
    sent to an https authorization endpoint (or one the fetch allow-list admits over http)."""
    if metadata.get("issuer") != settings.OIDC_ISSUER:
        raise SignInError(
            f"the discovery document names issuer {str(metadata.get('issuer'))[:200]!r}, "
            f"not OIDC_ISSUER {settings.OIDC_ISSUER!r}"
        )
    endpoint = str(metadata.get("authorization_endpoint", ""))
    if not (endpoint.startswith("https://") or allows_plain_http(endpoint)):
        raise SignInError("the discovery document has no https authorization_endpoint")


def verified_claims(request) -> tuple[dict, str]:
    """Finish the code flow of this callback request: (claims, id_token).

    Claims are the verified ID token's, plus the userinfo endpoint's when the ID token lacks the
    role claim (many IdPs put groups only there); userinfo must name the same `sub`."""
    app = oidc_app()
    if "error" in request.GET:
        # Anyone can craft this URL: the page names the error code only, never its free text.
        code = request.GET["error"]
        code = code if _ERROR_CODE.fullmatch(code) else "an unknown error"
        logger.warning("IdP error answer %r: %s", code, request.GET.get("error_description"))
        raise SignInError(f"the IdP refused the sign-in: {code}")
    try:
        token = app.authorize_access_token(request)
        if "userinfo" not in token:
            raise SignInError("the IdP answered without an ID token (is 'openid' in OIDC_SCOPES?)")
        claims = dict(token["userinfo"])
        if settings.OIDC_ROLE_CLAIM not in claims and app.server_metadata.get("userinfo_endpoint"):
            extra = dict(app.userinfo(token=token))
            if extra.get("sub") != claims.get("sub"):
                raise SignInError("the userinfo endpoint named another subject than the ID token")
            claims = {**extra, **claims}
    except AuthlibBaseError as exc:
        raise SignInError(_describe(exc)) from None
    except JoseError as exc:
        raise SignInError(f"the ID token was refused: {exc.error}") from None
    except requests.RequestException as exc:
        logger.warning("OIDC sign-in: the IdP could not be reached: %s", exc)
        raise SignInError(f"the IdP could not be reached ({_kind(exc)})") from None
    return claims, token.get("id_token", "")


def _describe(exc: AuthlibBaseError) -> str:
    if exc.error == "mismatching_state":
        return "the sign-in answer does not belong to a sign-in started here (state mismatch)"
    text = f"the IdP refused the sign-in: {exc.error}"
    return f"{text} ({exc.description})" if exc.description else text


def end_session_url(id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The IdP's RP-initiated logout URL when it advertises end_session_endpoint, else None."""
    if not enabled() or not id_token:
        return None
    try:
        app = oidc_app()
    except SignInError:
        return None  # the console session is ended anyway
    if not app.server_metadata.get("end_session_endpoint"):
        return None
    return app.create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri,
        id_token_hint=id_token,
        client_id=settings.OIDC_CLIENT_ID,
    )["url"]


@receiver(setting_changed)
def _forget_client(setting, **kwargs):
    """Start over (discovery included): after a failed check, or when a test changes settings."""
    global _app
    if setting.startswith("OIDC_") or setting == "FETCH_ALLOWLIST":
        with _lock:
            _app = None
