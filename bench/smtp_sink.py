"""An SMTP server on loopback for the benchmarks, in a process of its own (aiosmtpd, no TLS, no
auth), so that it does not share the benchmark's interpreter lock.

Prints its port on the first line, then answers one line of JSON per line read on stdin:
`stats` (messages, client connections, distinct Message-IDs, the most often one was received
and a digest of the sorted Message-IDs) or `reset`. Ends when stdin closes.

    .venv/bin/python bench/smtp_sink.py
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[bytes] = Counter()
        self.peers: set[Any] = set()
        self.messages = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        content = envelope.original_content or b""
        start = content.find(b"\nMessage-ID: ")
        message_id = content[start + 13 : content.find(b"\r", start + 13)] if start >= 0 else b""
        with self.lock:
            self.messages += 1
            self.ids[message_id] += 1
            self.peers.add(session.peer)
        return "250 OK"

    def stats(self) -> dict[str, Any]:
        with self.lock:
            digest = hashlib.sha256(b"\n".join(sorted(self.ids))).hexdigest()[:16]
            return {
                "messages": self.messages,
                "connections": len(self.peers),
                "distinct": len(self.ids),
                "max_copies": max(self.ids.values(), default=0),
                "ids_digest": digest,
            }

    def reset(self) -> dict[str, Any]:
        with self.lock:
            self.ids, self.peers, self.messages = Counter(), set(), 0
        return {"reset": True}


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, data_size_limit=None)
    controller.start()
    print(port, flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            answer = sink.stats() if command == "stats" else sink.reset()
            print(json.dumps(answer), flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
