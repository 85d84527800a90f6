"""Fixtures for the report tests: files under the test's tmp_path, and a builder returning a
sample report for kinds whose real builder the test does not need."""

from __future__ import annotations

import pytest

from governance.reports import catalog
from tests.governance.reports.samples import sample_report
from tests.receivers.fixtures import _smtp_server, smtp_receiver  # noqa: F401 - SMTP fixtures


@pytest.fixture
def reports_dir(settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    return settings.REPORTS_DIR


@pytest.fixture
def sample_builder(monkeypatch, reports_dir):
    """access_inventory and campaign build the sample report (30 rows); the params each got are
    kept in the list it returns."""
    seen: list[dict] = []

    def build(params):
        seen.append(params)
        return (
            sample_report(30, chain_head=None)
            if params.get("rows") is None
            else sample_report(int(params["rows"]))
        )

    for kind in ("access_inventory", "campaign"):
        monkeypatch.setitem(catalog.BUILDERS, kind, build)
        # The sample builder applies these two as well (a size, a marker to tell runs apart).
        monkeypatch.setitem(catalog.FILTERS, kind, catalog.FILTERS[kind] | {"rows", "tag"})
    return seen
