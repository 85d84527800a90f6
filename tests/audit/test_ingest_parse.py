"""The iterative scanner that checks and splits a batch no parser reads whole (any depth)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.http_body import BodyError
from audit.ingest_parse import split_batch

TOKENS = [
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b'"a"',
    b'"events"',
    b"1",
    b"-0.5e3",
    b"01",
    b"null",
    b"tru",
    b" ",
    b'"\\u00e9"',
    b'"\\x"',
    b'"\x01"',
]


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=10))
def test_the_scanner_accepts_exactly_the_json_the_stdlib_reads_and_splits_it_the_same(tokens):
    body = b"[" + b"".join(tokens) + b"]"
    try:
        expected = json.loads(body)
    except ValueError:
        with pytest.raises(BodyError) as refused:
            split_batch(body)
        assert refused.value.status == 400
        return
    assert [json.loads(text) for text in split_batch(body)] == expected


@pytest.mark.parametrize(
    "body, events",
    [
        (b'{"x": [1], "events": [{"a": 1}, 2]}', [{"a": 1}, 2]),
        (b' {"events": []} ', []),
        (b"[" + b"[" * 20_000 + b"]" * 20_000 + b', {"b": 2}]', [None, {"b": 2}]),
    ],
)
def test_the_scanner_finds_the_events_of_both_body_shapes_at_any_depth(body, events):
    texts = split_batch(body)
    assert len(texts) == len(events)
    for text, event in zip(texts, events):
        assert event is None or json.loads(text) == event


@pytest.mark.parametrize("body", [b'{"hello": [1]}', b"42", b'{"events": 1}', b""])
def test_the_scanner_refuses_a_body_that_is_not_a_batch(body):
    with pytest.raises(BodyError) as refused:
        split_batch(body)
    assert refused.value.status == 400
