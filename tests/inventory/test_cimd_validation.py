"""CIMD rules and diffs, as pure functions (no network, no database)."""

import pytest

from inventory import cimd_checks

URL = "https://agent.acme.example/oauth/client.json"
GOOD = {
    "client_id": URL,
    "client_name": "Acme Agent",
    "redirect_uris": ["https://agent.acme.example/cb"],
    "grant_types": ["authorization_code"],
    "token_endpoint_auth_method": "none",
}


def codes(problems):
    return {p["code"] for p in problems}


@pytest.mark.parametrize(
    "url,code",
    [
        ("http://agent.acme.example/client.json", "url_not_https"),
        ("https://agent.acme.example", "url_no_path"),
        ("https://agent.acme.example/", "url_no_path"),
        ("https://agent.acme.example/a/../client.json", "url_dot_segment"),
        ("https://agent.acme.example/./client.json", "url_dot_segment"),
        ("https://agent.acme.example/client.json#frag", "url_fragment"),
        ("https://user:pw@agent.acme.example/client.json", "url_credentials"),
        ("https://agent.acme.example/client.json?v=1", "url_query"),
    ],
)
def test_client_id_urls_of_the_wrong_shape_are_reported(url, code):
    assert code in codes(cimd_checks.validate_client_id_url(url))


def test_a_well_formed_client_id_url_has_no_problems():
    assert cimd_checks.validate_client_id_url(URL) == []
    assert (
        cimd_checks.validate_client_id_url("https://agent.acme.example:8443/oauth/client.json")
        == []
    )


def test_a_good_document_is_valid():
    assert cimd_checks.validate_document(URL, GOOD) == []


@pytest.mark.parametrize(
    "change,code",
    [
        ({"client_id": URL + "x"}, "client_id_mismatch"),
        ({"client_id": "https://AGENT.acme.example/oauth/client.json"}, "client_id_mismatch"),
        ({"client_name": None}, "missing_field"),
        ({"redirect_uris": []}, "missing_field"),
        ({"client_secret": "s3cret"}, "client_secret_present"),
        ({"client_secret_expires_at": 0}, "client_secret_present"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "shared_secret_auth"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "shared_secret_auth"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "keys_missing"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "redirect_uri_scheme"),
        ({"redirect_uris": ["myapp:/cb"]}, "redirect_uri_scheme"),
        ({"redirect_uris": ["https://agent.acme.example/cb#x"]}, "redirect_uri_fragment"),
    ],
)
def test_documents_breaking_a_rule_are_invalid_with_the_field_named(change, code):
    problems = cimd_checks.validate_document(URL, {**GOOD, **change})
    assert code in codes(problems)
    assert not cimd_checks.is_valid(problems)
    assert all(p["field"] for p in problems if p["code"] == code)


def test_localhost_only_redirects_are_legal_but_warned():
    problems = cimd_checks.validate_document(
        URL, {**GOOD, "redirect_uris": ["http://127.0.0.1:33418/callback", "http://localhost/cb"]}
    )
    assert codes(problems) == {"redirect_uris_localhost_only"}
    assert cimd_checks.is_valid(problems)


def test_a_document_that_is_not_an_object_is_invalid():
    assert codes(cimd_checks.validate_document(URL, ["client_id"])) == {"not_an_object"}


def test_the_diff_lists_added_removed_and_changed_keys_and_list_items():
    new = {
        **GOOD,
        "redirect_uris": ["https://agent.acme.example/cb", "https://evil.example/cb"],
        "client_name": "Acme Agent 2",
        "logo_uri": "https://agent.acme.example/l.png",
    }
    del new["grant_types"]
    changes = {(c["field"], c["kind"]) for c in cimd_checks.diff_documents(GOOD, new)}
    assert changes == {
        ("redirect_uris", "item_added"),
        ("client_name", "changed"),
        ("logo_uri", "added"),
        ("grant_types", "removed"),
    }
    text = cimd_checks.unified_diff(GOOD, new)
    assert '+    "https://evil.example/cb"' in text and '-  "client_name": "Acme Agent"' in text


def test_a_redirect_uri_on_a_new_origin_or_localhost_is_a_high_risk_change():
    foreign = cimd_checks.risky_changes(
        GOOD, {**GOOD, "redirect_uris": GOOD["redirect_uris"] + ["https://evil.example/cb"]}, URL
    )
    local = cimd_checks.risky_changes(
        GOOD, {**GOOD, "redirect_uris": ["http://localhost:9/cb"]}, URL
    )
    same = cimd_checks.risky_changes(
        GOOD,
        {**GOOD, "redirect_uris": GOOD["redirect_uris"] + ["https://agent.acme.example/cb2"]},
        URL,
    )
    assert [(f["kind"], f["severity"]) for f in foreign] == [("cimd.redirect_uri_added", "high")]
    assert foreign[0]["details"]["new_origins"] == ["https://evil.example"]
    assert [(f["kind"], f["severity"]) for f in local] == [("cimd.redirect_uri_added", "high")]
    assert [(f["kind"], f["severity"]) for f in same] == [("cimd.redirect_uri_added", "warning")]


def test_key_auth_method_and_grant_type_changes_are_risky_but_a_new_name_is_not():
    new = {
        **GOOD,
        "jwks_uri": "https://agent.acme.example/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "Renamed",
    }
    kinds = {f["kind"] for f in cimd_checks.risky_changes(GOOD, new, URL)}
    assert kinds == {"cimd.keys_changed", "cimd.auth_method_changed", "cimd.grant_types_changed"}
    assert cimd_checks.risky_changes(GOOD, {**GOOD, "client_name": "Renamed"}, URL) == []
