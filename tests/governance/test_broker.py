"""The filesystem broker `make run` uses: a message is in the queue folder only once whole, so a
worker polling the folder never reads a half-written one (that killed the worker)."""

import os
import threading
from unittest import mock

from kombu import Connection

import governance.celery  # noqa: F401 - installs the transport for "filesystem://"
from governance.platform import broker


def test_filesystem_url_uses_the_atomic_transport_and_messages_round_trip(tmp_path):
    folder = str(tmp_path)
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    with Connection("filesystem://", transport_options=options) as conn:
        assert isinstance(conn.transport, broker.Transport)
        queue = conn.SimpleQueue("atomic")
        sent = [{"n": n, "body": "x" * 50_000} for n in range(200)]
        # A reader polls while a writer writes: every message it gets is whole.
        writer = threading.Thread(target=lambda: [queue.put(m) for m in sent])
        writer.start()
        got = []
        while len(got) < len(sent):
            message = queue.get(timeout=10)
            got.append(message.payload)
            message.ack()
        writer.join()
        queue.close()
    # (kombu orders by the millisecond: messages of the same one may swap; none is lost)
    assert sorted(m["n"] for m in got) == list(range(200))
    assert not [name for name in os.listdir(folder) if name.endswith(".part")]


def test_a_message_gets_its_readable_name_only_once_written_whole(tmp_path):
    folder = str(tmp_path)
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    seen_before_rename = []

    def rename(partial, final):
        # What a polling worker could see at this point: only the partial file, already whole.
        seen_before_rename.append(
            (sorted(os.listdir(folder)), os.path.getsize(partial), os.path.exists(final))
        )
        os.rename(partial, final)

    with Connection("filesystem://", transport_options=options) as conn:
        queue = conn.SimpleQueue("whole")  # kombu keeps bindings per name in the process
        with mock.patch.object(broker.os, "replace", side_effect=rename):
            queue.put({"body": "x" * 10_000})
        ((names, size, final_existed),) = seen_before_rename
        assert [n for n in names if n.endswith(".whole.msg")] == [] and not final_existed
        assert size > 10_000
        assert queue.get(timeout=5).payload == {"body": "x" * 10_000}
        queue.close()
