"""The filesystem broker with atomic writes: kombu's own transport, but a message appears in the
queue folder only once it is whole.

kombu's filesystem transport writes a message straight under its final name; a worker polling
the folder can move and read it before the write finished, get an empty file and die
("Unrecoverable error: JSONDecodeError"), taking `make run` down with it. With the alert
dispatch beat every second this happened within seconds of a start. Here the message is written
under a name the readers skip (`….msg.part`) and renamed into place: a rename within one folder
is atomic, so a reader sees the whole message or nothing. Installed for the `filesystem://` URL
by governance/celery.py; every other broker URL is untouched.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu gives it (readers sort by it: the monotonic time keeps the order).
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # its suffix is not ".<queue>.msg": readers skip it
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
