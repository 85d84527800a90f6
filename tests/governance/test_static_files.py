"""Static files and charts: plotly.js is the small partial bundle, matches the plotly the server
builds figures with, holds every trace type the console draws, and is sent gzipped; every chart
carries the console's layout."""

import gzip
import json
import re
from html import unescape
from pathlib import Path

import plotly
import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware

from governance.access import charts

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "plotly"
BUNDLE = VENDOR / "plotly-basic.min.js"
URL = "/static/vendor/plotly/plotly-basic.min.js"
# The trace modules of plotly.js's "basic" partial bundle (its README).
BASIC_TRACES = {"bar", "pie", "scatter"}


def _version(script: bytes) -> str:
    return re.search(rb"plotly\.js (?:\([^)]*\) )?v(\d+\.\d+\.\d+)", script[:300]).group(1).decode()


def _figure(html: str) -> dict:
    return json.loads(unescape(html.split('data-plotly-figure="')[1].split('"')[0]))


def test_the_bundle_is_the_plotly_js_the_python_plotly_builds_figures_for():
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert b"(basic - minified)" in BUNDLE.read_bytes()[:100]
    assert _version(BUNDLE.read_bytes()) == _version(full.read_bytes())
    assert (VENDOR / "LICENSE.txt").read_text().startswith("MIT License")


def _every_chart() -> list[dict]:
    rows = [{"server_name": "crm", "tool": "search", "events": 3}]
    return [
        _figure(html)
        for html in (
            charts.grants_chart([{"status": "active", "grant_type": "x", "n": 1}], {}),
            charts.tasks_chart({"working": 2}, {}),
            charts.registrations_chart({"cimd": 2}, {}),
            charts.top_tools_chart(rows),
            charts.events_chart([{"hour": "2026-12-01T10:00:00Z", "events": 3, "errors": 1}]),
        )
    ]


def test_every_chart_the_console_draws_uses_a_trace_type_the_bundle_has():
    used = {trace["type"] for figure in _every_chart() for trace in figure["data"]}
    assert used and used <= BASIC_TRACES, used - BASIC_TRACES


def test_every_chart_has_the_consoles_layout_and_keeps_its_own():
    figures = _every_chart()
    for figure in figures:
        layout = figure["layout"]
        assert {k: layout[k] for k in charts.LAYOUT} == charts.LAYOUT
        assert layout["xaxis"]["automargin"] and layout["yaxis"]["automargin"]  # long labels
        assert figure["config"] == {"displayModeBar": False, "responsive": True}
    assert figures[0]["layout"]["barmode"] == "stack"  # the grants chart's own setting


def test_the_gzipped_copy_is_the_bundle_itself():
    assert gzip.decompress((VENDOR / "plotly-basic.min.js.gz").read_bytes()) == BUNDLE.read_bytes()


@pytest.mark.django_db
def test_the_bundle_is_sent_gzipped_to_a_browser_that_accepts_it_and_plain_otherwise(client):
    zipped = client.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd")
    plain = client.get(URL)
    assert zipped.status_code == plain.status_code == 200
    assert zipped["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert "Accept-Encoding" in zipped["Vary"]
    body = b"".join(zipped.streaming_content)
    assert len(body) < 450_000 and gzip.decompress(body) == BUNDLE.read_bytes()
    assert zipped["Content-Type"].startswith("text/javascript")


def test_collected_static_files_are_each_sent_gzipped(tmp_path, settings):
    """Production runs collectstatic and sets STATIC_COLLECTED=1: every file, htmx and the
    console's own CSS included, then has a gzipped copy that is sent to browsers accepting it."""
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    settings.WHITENOISE_USE_FINDERS = False
    serve = WhiteNoiseMiddleware(lambda request: HttpResponse(status=404), settings=settings)
    for url, at_most in [
        ("/static/django_htmx/htmx-2.min.js", 20_000),
        ("/static/css/app.css", 4_000),
        (URL, 450_000),
    ]:
        response = serve(RequestFactory().get(url, HTTP_ACCEPT_ENCODING="gzip, br"))
        assert response.status_code == 200 and response["Content-Encoding"] == "gzip", url
        assert len(b"".join(response.streaming_content)) < at_most, url
