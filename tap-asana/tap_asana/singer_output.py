"""Singer messages to stdout: msgspec-encoded, without a flush per record.

singer-sdk's default writer encodes with simplejson's pure-Python encoder
and flushes stdout (a system call) after every message, both paid once per
record. We use the SDK's own msgspec encoding instead and buffer records,
flushing whenever a STATE (or SCHEMA) message goes out, so a downstream
target always holds every record a state message vouches for before it
sees that state.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message


class BufferedSingerWriter(MsgSpecWriter):
    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if message.type != "RECORD":
            sys.stdout.buffer.flush()
