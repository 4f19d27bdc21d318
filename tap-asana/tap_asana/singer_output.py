"""Singer messages to stdout without a flush per record.

singer-sdk's writer flushes stdout after every message: one syscall per
record, most of the tap's output cost on a big workspace. Records are
buffered instead, and the buffer is flushed whenever a STATE (or SCHEMA)
message goes out, so a downstream target always holds every record a state
message vouches for before it sees that state.
"""

from __future__ import annotations

import sys

from singer_sdk.singerlib import Message
from singer_sdk.singerlib.encoding import SimpleSingerWriter


class BufferedSingerWriter(SimpleSingerWriter):
    def write_message(self, message: Message) -> None:
        sys.stdout.write(self.format_message(message) + "\n")
        if message.type != "RECORD":
            sys.stdout.flush()
