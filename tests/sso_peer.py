"""The IdP people sign in to the console with, for tests: oidc-provider (tests/peers/oidc) started
with `--sign-in`, and a walk through its login and consent pages over HTTP.

    with sign_in_peer(console_url) as idp:        # console_url: live_server.url, a WebServer's url
        settings.update(idp.console_settings())   # OIDC_ISSUER, client, role map, allow-list
        idp.users["alice"]                        # {"password", "email", "name", "groups"}

The `sso_console` fixture (tests/conftest.py) does both against Django's live server, for one
test. The peer registers the client "console-web" with `<console_url>/accounts/oidc/callback/`
as its redirect URI and `<console_url>/accounts/login/` as its post-logout redirect URI; its
users are alice (group mcp-admins), bob (mcp-auditors, staff) and carol (contractors).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from tests.governance.connectors.peers import OIDC_PEER_DIR, node_peer

CALLBACK_PATH = "/accounts/oidc/callback/"
LOGIN_PATH = "/accounts/login/"
ROLE_MAP = "mcp-admins=Admin,mcp-auditors=Auditor"
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass
class SignInPeer:
    """A running sign-in IdP: its issuer, the console's client at it, its users."""

    issuer: str
    client_id: str
    client_secret: str
    users: dict  # name -> {"password", "email", "name", "groups"}
    admin_auth: tuple[str, str]  # Basic credentials of the peer's admin route

    def console_settings(self, **overrides) -> dict:
        """The console settings that point company sign-in at this peer."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_SCOPES": "openid email profile groups",
            "OIDC_PROVIDER_NAME": "Test IdP",
            "OIDC_ROLE_CLAIM": "groups",
            "OIDC_ROLE_MAP": ROLE_MAP,
            "FETCH_ALLOWLIST": ["127.0.0.1"],  # the peer listens on plain http at 127.0.0.1
            **overrides,
        }

    def set_groups(self, username: str, groups: list[str]) -> None:
        """The user's groups at the IdP from now on (their next sign-in sees them)."""
        answer = httpx.put(
            f"{self.issuer}/admin/users/{username}/groups",
            content=json.dumps(groups),
            auth=self.admin_auth,
            timeout=5,
        )
        answer.raise_for_status()


@contextlib.contextmanager
def sign_in_peer(console_url: str) -> Iterator[SignInPeer]:
    """Start the peer for a console served at `console_url` (skips without Node); stop it after."""
    console_url = console_url.rstrip("/")
    config = {
        "redirect_uris": [console_url + CALLBACK_PATH],
        "post_logout_redirect_uris": [console_url + LOGIN_PATH],
    }
    with node_peer(OIDC_PEER_DIR, "peer.mjs", "--sign-in=" + json.dumps(config)) as info:
        admin = info["clients"]["console"]
        yield SignInPeer(
            issuer=info["issuer"],
            client_id=info["sign_in"]["client"]["client_id"],
            client_secret=info["sign_in"]["client"]["client_secret"],
            users=info["sign_in"]["users"],
            admin_auth=(admin["client_id"], admin["client_secret"]),
        )


def start_sign_in(http: httpx.Client, console_url: str, *, next_url: str = "") -> httpx.Response:
    """Open the login page and press "Sign in with ...": the console's redirect to the IdP."""
    page = http.get(f"{console_url}{LOGIN_PATH}")
    page.raise_for_status()
    return http.post(
        f"{console_url}/accounts/oidc/login/",
        data={"csrfmiddlewaretoken": http.cookies["csrftoken"], "next": next_url},
        headers={"Referer": f"{console_url}{LOGIN_PATH}"},
    )


def walk_idp(
    http: httpx.Client, response: httpx.Response, username: str, password: str, *, until=""
) -> httpx.Response | str:
    """Follow redirects from `response`, filling in the IdP's login form and allowing its
    consent page, until a page that is neither: the console's page after its callback (the
    overview, the no-role page, an error page). With `until`, stop before requesting the first
    URL starting with it and return that URL."""
    posted = set()
    for _step in range(20):
        if response.is_redirect:
            url = urljoin(str(response.url), response.headers["location"])
            if until and url.startswith(until):
                return url
            response = http.get(url)
            continue
        match = _FORM_ACTION.search(response.text)
        action = urljoin(str(response.url), match.group(1)) if match else ""
        if not action.endswith(("/login", "/confirm")) or action in posted:
            return response  # not an IdP form, or one that refused what was sent
        posted.add(action)
        fields = {"username": username, "password": password} if action.endswith("/login") else {}
        response = http.post(action, data=fields)
    raise AssertionError("the sign-in did not finish within 20 steps")


def sign_in(http: httpx.Client, console_url: str, username: str, password: str, **kw):
    """The whole company sign-in as a browser does it; the console's last answer."""
    return walk_idp(http, start_sign_in(http, console_url, **kw), username, password)
