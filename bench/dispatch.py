"""Benchmark: dispatch 1,000 outbox messages to .eml files and to an SMTP server on loopback.

"raw smtplib" sends the same rows' bytes with bare smtplib over one connection in the same run:
the limit the `emails`-based transport ("transport only") is held to (issue 11: >= 0.8x).

    .venv/bin/python bench/dispatch.py                  # both backends, 1,000 messages, 3 runs
    .venv/bin/python bench/dispatch.py --messages 200 --repeat 1 --backends sqlite

The messages are real drafts: the example programme is loaded and the app's own composers
(reminders with .ics, overdue notices, digests) write their drafts for a Monday morning; these
are repeated with unique keys (and recipients cycling over the programme's people) until there
are N, then written to the outbox with `compose.enqueue`. Dispatch is `jobs.dispatch_outbox`,
exactly what `veiligheid run` does: per message a claim commit, the send, and a "sent" commit.

SMTP: aiosmtpd on 127.0.0.1 (a thread in this process, like the tests), no TLS, no auth; it
counts messages and the client connections they came over (one connection per batch is
expected). "transport only" times the same transport on the same rows without the database,
so the difference is the outbox bookkeeping.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import (  # bench/ is on sys.path when run as a script
    BACKENDS,
    EXAMPLE,
    code_fingerprint,
    fresh_app,
    machine_info,
    print_table,
    rulebook,
    summary,
    timed,
)

from veiligheid_flow.authority import SYSTEM  # loads act as the system, as `start` does

LOAD_AT = "2023-09-29T09:00"
SEND_AT = "2023-10-09T08:05"  # a Monday: reminders, overdue notices and the digests are due


class Counter:
    """aiosmtpd handler: accepts everything, counts messages, bytes and client connections."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.bytes = 0
        self.peers: set[Any] = set()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.original_content or b"")
            self.peers.add(session.peer)
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.messages, self.bytes, self.peers = 0, 0, set()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_drafts(app: Any, now: Any) -> list[Any]:
    """The drafts the app itself composes for SEND_AT (not enqueued)."""
    from veiligheid_flow.clock import local_date
    from veiligheid_flow.mail import compose

    book = rulebook(app)
    since = local_date(now) - timedelta(days=7)
    with app.sessions() as session:
        drafts = [
            *compose.reminders(session, now=now, book=book, since=since),
            *compose.overdue(session, now=now, book=book, since=since),
            *compose.digests(session, now=now, book=book),
        ]
    return drafts


def make_drafts(samples: list[Any], n: int, recipients: list[str]) -> list[Any]:
    return [
        dataclasses.replace(
            samples[i % len(samples)],
            key=f"bench:{i:05d}:{samples[i % len(samples)].key}",
            recipient=recipients[i % len(recipients)],
            cc=(),
        )
        for i in range(n)
    ]


def raw_smtplib(rows: list[Any], settings: Any) -> float:
    """The same rows, the same bytes, through bare `smtplib` over one connection: the limit
    the `emails`-based transport is measured against."""
    import smtplib

    from veiligheid_flow.mail.transport import prepare

    def send_all() -> None:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        try:
            for row in rows:
                out = prepare(row, settings.mail_from)
                smtp.sendmail(out.sender, out.recipients, out.data)
        finally:
            smtp.quit()

    elapsed, _ = timed(send_all)
    return elapsed


def run_once(backend: str, n: int, smtp_port: int | None, counter: Counter) -> dict[str, Any]:
    from sqlalchemy import func, select

    from veiligheid_flow.app import commands
    from veiligheid_flow.app.jobs import dispatch_outbox
    from veiligheid_flow.clock import parse_now
    from veiligheid_flow.mail import compose
    from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
    from veiligheid_flow.mail.transport import make_transport
    from veiligheid_flow.programme.models import Person

    extra: dict[str, Any] = {}
    if smtp_port is not None:
        extra = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_timeout": 10.0}
    with fresh_app(backend, **extra) as app:
        commands.load(app, EXAMPLE, now=parse_now(LOAD_AT), by=SYSTEM)
        now = parse_now(SEND_AT)
        samples = sample_drafts(app, now)
        with app.sessions() as session:
            people = sorted(session.scalars(select(Person.email)))
        drafts = make_drafts(samples, n, people)

        def enqueue() -> int:
            with app.unit_of_work() as session:
                return compose.enqueue(session, drafts, now=now)

        t_enqueue, added = timed(enqueue)
        assert added == n, (added, n)

        # The same rows, detached, for the transport-only measurement.
        with app.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            session.expunge_all()

        counter.reset()
        t_dispatch, report = timed(lambda: dispatch_outbox(app, now=now, worker="bench"))
        assert len(report.sent) == n, (len(report.sent), report)
        with app.sessions() as session:
            sent = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENT)
            )
        assert sent == n
        connections = len(counter.peers) if smtp_port is not None else None
        received = counter.messages if smtp_port is not None else None
        mail_dir: Path = app.settings.mail_dir
        eml_bytes = sum(p.stat().st_size for p in mail_dir.glob("*.eml"))

        # Transport only: same rows, no database (files go to a second folder).
        counter.reset()
        transport = make_transport(
            app.settings.model_copy(update={"mail_dir": mail_dir.parent / "mail-transport-only"})
        )

        def send_all() -> None:
            try:
                for row in rows:
                    transport.send(row)
            finally:
                transport.close()

        t_transport, _ = timed(send_all)
        t_raw = raw_smtplib(rows, app.settings) if smtp_port is not None else None
        return {
            "samples": len(samples),
            "kinds": sorted({d.kind for d in samples}),
            "enqueue": t_enqueue,
            "dispatch": t_dispatch,
            "transport": t_transport,
            "raw": t_raw,
            "connections": connections,
            "received": received,
            "avg_kib": (counter.bytes / max(counter.messages, 1) if smtp_port else eml_bytes / n)
            / 1024,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description="outbox dispatch benchmark")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--transports", nargs="+", choices=("eml", "smtp"), default=["eml", "smtp"])
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    info = machine_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    counter = Counter()
    port = _free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    started = time.perf_counter()
    rows = []
    notes = []
    try:
        for backend in args.backends:
            for transport in args.transports:
                results = [
                    run_once(backend, args.messages, port if transport == "smtp" else None, counter)
                    for _ in range(args.repeat)
                ]
                dispatch = [r["dispatch"] for r in results]
                only = [r["transport"] for r in results]
                raw = [r["raw"] for r in results if r["raw"] is not None]
                enqueue = [r["enqueue"] for r in results]
                rate = sorted(args.messages / t for t in dispatch)
                conns = {r["connections"] for r in results}
                rows.append(
                    [
                        backend,
                        transport,
                        f"{rate[len(rate) // 2]:.0f} msg/s",
                        summary(dispatch),
                        f"{args.messages / sorted(only)[len(only) // 2]:.0f} msg/s",
                        f"{args.messages / sorted(raw)[len(raw) // 2]:.0f} msg/s" if raw else "-",
                        f"{sorted(raw)[len(raw) // 2] / sorted(only)[len(only) // 2]:.2f}"
                        if raw
                        else "-",
                        summary(enqueue),
                        "-" if transport == "eml" else ", ".join(map(str, sorted(conns))),
                        f"{results[0]['avg_kib']:.1f} KiB",
                    ]
                )
                notes.append(
                    f"{backend}/{transport}: {results[0]['samples']} sample drafts "
                    f"({', '.join(results[0]['kinds'])}) repeated to {args.messages}"
                )
    finally:
        controller.stop()
    print_table(
        f"Dispatch of {args.messages} outbox messages (median of {args.repeat} runs)",
        [
            "backend",
            "transport",
            "dispatch rate",
            "dispatch time",
            "transport only",
            "raw smtplib",
            "transport / raw",
            "enqueue (1 tx)",
            "SMTP connections",
            "avg message",
        ],
        rows,
    )
    for note in dict.fromkeys(notes):
        print(note)
    if code_fingerprint() != info["code"]:
        print(
            f"\nWARNING: the project's code changed during this run ({info['code']} → "
            f"{code_fingerprint()}); the numbers mix versions, run again."
        )
    print(
        f"\ntotal wall time {time.perf_counter() - started:.0f} s, load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
