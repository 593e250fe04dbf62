"""kombu's filesystem transport (the embedded default broker), with messages that appear whole.

kombu writes a message file in place in the queue folder, so a worker polling that folder can
take the file while it is still empty and die on the JSON ("Unrecoverable error:
JSONDecodeError", seen in our browser tests). Here a message is written under a name the
consumer ignores and renamed into place: a rename within one folder is atomic."""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staging = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(staging, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(staging, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    # Folders have no host; with kombu's default ("localhost") every start warns that none was
    # supplied, a warning that would reach `make run`'s terminal.
    default_connection_params = {"port": filesystem.Transport.default_port}


def use_atomic_filesystem_transport() -> None:
    """`filesystem://` broker URLs get this transport, in the web server and the worker alike."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
