"""Pure server.json checks (no database, no network)."""

import copy

import pytest

from inventory.registry_entries import (
    OFFICIAL_PACKAGE_BASE_URLS,
    EntryError,
    base_url_allowed,
    check_server_json,
    is_version_range,
    parse_entry,
    redact_secrets,
)
from tests.fixtures.registry_server import entry, example, generated_server


def codes(server):
    return {p["code"] for p in check_server_json(server)}


def test_the_reference_examples_are_schema_valid():
    for name in ("context7", "playwright"):
        assert "schema" not in codes(example(name)), name


def test_a_document_breaking_the_schema_reports_the_field():
    server = generated_server(1)
    server["name"] = "no slash here"
    del server["description"]
    problems = [p for p in check_server_json(server) if p["code"] == "schema"]
    assert {p["path"] for p in problems} >= {"name", "(root)"}
    assert any("description" in p["message"] for p in problems)


def test_template_placeholders_are_found_in_the_github_example():
    problems = check_server_json(example("github"))
    paths = {p["path"] for p in problems if p["code"] == "template_placeholder"}
    assert paths == {"version", "packages.0.identifier"}


def test_double_brace_placeholders_are_found_too():
    server = generated_server(1)
    server["packages"][0]["version"] = "{{VERSION}}"
    assert "template_placeholder" in codes(server)


@pytest.mark.parametrize(
    "version", ["^1.2.3", "~1.2.3", ">=1.2.3", "1.x", "1.*", "*", "latest", "1.0 || 2.0", "<2"]
)
def test_version_ranges_and_latest_are_not_exact_versions(version):
    assert is_version_range(version)


@pytest.mark.parametrize(
    "version", ["1.2.3", "1.0.0-beta.1", "2025.10.1", "1.0.0+20130313144700", "v1", "0.0.79"]
)
def test_exact_versions_are_accepted(version):
    assert not is_version_range(version)


def test_a_literal_secret_is_reported_without_its_value_and_redacted_from_storage():
    server = generated_server(1)
    server["remotes"][0]["headers"] = [
        {"name": "Authorization", "isSecret": True, "value": "Bearer sk-real-token"}
    ]
    server["remotes"][0]["variables"] = {"tenant": {"isSecret": True, "default": "hunter2"}}
    original = copy.deepcopy(server)
    problems = [p for p in check_server_json(server) if p["code"] == "literal_secret"]
    assert {p["path"] for p in problems} == {
        "remotes.0.headers.0.value",
        "remotes.0.variables.tenant.default",
    }
    assert "sk-real" not in str(problems)
    redacted = redact_secrets(server)
    assert "sk-real-token" not in str(redacted) and "hunter2" not in str(redacted)
    assert server == original  # the input is not modified


def test_a_secret_filled_from_a_variable_is_not_a_literal_secret():
    server = generated_server(1)
    server["remotes"][0]["headers"] = [
        {"name": "Authorization", "isSecret": True, "value": "Bearer {token}"}
    ]
    assert "literal_secret" not in codes(server)


def test_non_https_remotes_mcpb_without_hash_and_foreign_base_urls_are_problems():
    server = generated_server(1)
    server["remotes"] = [{"type": "streamable-http", "url": "http://mcp.example.com/mcp"}]
    server["packages"] = [
        {
            "registryType": "mcpb",
            "identifier": "https://github.com/o/r/releases/download/v1/x.mcpb",
            "transport": {"type": "stdio"},
        },
        {
            "registryType": "oci",
            "identifier": "evil/image",
            "registryBaseUrl": "https://evil.example",
            "transport": {"type": "stdio"},
            "version": "1.0.0",
        },
    ]
    found = codes(server)
    assert {"non_https_remote", "mcpb_missing_sha256", "registry_base_url_not_allowed"} <= found


def test_the_context7_mcpb_package_with_a_hash_from_github_is_fine():
    assert not {"mcpb_missing_sha256", "registry_base_url_not_allowed"} & codes(example("context7"))


def test_wildcard_hosts_in_the_allow_list_match_subdomains_only():
    allowed = OFFICIAL_PACKAGE_BASE_URLS
    assert base_url_allowed("oci", "https://us-docker.pkg.dev", allowed)
    assert not base_url_allowed("oci", "https://pkg.dev.evil.example", allowed)
    assert not base_url_allowed("oci", "http://ghcr.io", allowed)
    assert not base_url_allowed("npm", "https://npm-registry.example.evil.example", allowed)


def test_unusable_items_raise_a_clear_entry_error():
    for item in ("text", {"server": {"version": "1"}}, {"server": {"name": "a/b"}}, {}):
        with pytest.raises(EntryError):
            parse_entry(item)


def test_the_content_hash_ignores_key_order_and_sees_status_changes():
    item = entry(generated_server(1))
    reordered = {"_meta": item["_meta"], "server": dict(reversed(list(item["server"].items())))}
    assert parse_entry(item).content_hash == parse_entry(reordered).content_hash
    deprecated = copy.deepcopy(item)
    deprecated["_meta"]["io.modelcontextprotocol.registry/official"]["status"] = "deprecated"
    assert parse_entry(item).content_hash != parse_entry(deprecated).content_hash
