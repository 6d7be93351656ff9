"""A dispatcher killed mid-batch (SIGKILL, a separate process) loses and doubles nothing.

The doomed dispatcher runs in a child process with the test's settings (the `settings` fixture
exports VEILIGHEID_*). Its transport is slowed down inside the child only, so the kill lands while
a batch is under way. The restart is the ordinary `dispatch_outbox` 11 minutes later, when the
dead dispatcher's claim (older than `STALE_AFTER`) is recovered. See README "Exactly once".
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS, dispatch_outbox, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.dispatch import STALE_AFTER, retry
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.settings import Settings

CLAIM = "2023-10-02T08:05"  # the doomed dispatcher's clock; overdue mails and digests are due
RESTART = at(CLAIM) + timedelta(minutes=11)  # its claim is stale by now
SYNTHETIC = 36  # on top of the composed messages, so there is a real batch
KILL_AFTER = 3  # delivered messages seen before the kill
DELAY = 0.2  # the slowed-down step per message
SETTLE = DELAY / 2  # kill this long after the 3rd delivery: mid-way through the slow step
TIMEOUT = 15.0

# The doomed dispatcher. Slowing the transport down is this child's own code, in its own process.
CHILD = """
import os, sys, time, types
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.app.jobs import dispatch_outbox
from veiligheid_flow.mail import transport

mode, delay, now = sys.argv[1], float(sys.argv[2]), parse_now(sys.argv[3])
send = transport.FileTransport.send
if mode == "before_write":
    def slow(self, row):
        time.sleep(delay)
        send(self, row)
    transport.FileTransport.send = slow
elif mode == "after_write":
    def slow(self, row):
        send(self, row)
        time.sleep(delay)
    transport.FileTransport.send = slow
elif mode == "before_rename":
    def replace(src, dst):
        time.sleep(delay)
        os.replace(src, dst)
    transport.os = types.SimpleNamespace(replace=replace)
app = bootstrap(migrate=False)
report = dispatch_outbox(app, now=now, worker="doomed")
print("finished", len(report.sent), flush=True)
"""


def _fill_outbox(app: App) -> int:
    """The example's real messages for CLAIM plus synthetic ones; returns the total."""
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    composed = sum(run_job(app, job, now=at(CLAIM)).enqueued for job in JOBS)
    assert composed > 0
    drafts = [
        compose.Draft(
            key=f"crashtest:p{i:03d}@example.nl:2023-10-02",
            kind="crashtest",
            recipient=f"p{i:03d}@example.nl",
            subject=f"Bericht {i}",
            text=f"Tekst {i}",
            html=f"<p>Tekst {i}</p>",
        )
        for i in range(SYNTHETIC)
    ]
    with app.unit_of_work() as session:
        assert compose.enqueue(session, drafts, now=at(CLAIM)) == SYNTHETIC
    total = len(_rows(app))
    assert total == composed + SYNTHETIC >= 40
    return total


def _rows(app: App) -> list[OutboxMessage]:
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


def _kill_mid_batch(
    tmp_path: Path, mode: str, env: dict[str, str], delivered: Callable[[], int], total: int
) -> int:
    """Start the doomed dispatcher; SIGKILL it half-way through the slow step that follows the
    KILL_AFTER-th delivery (some, not all, messages are out). Returns the deliveries seen."""
    out, err = (tmp_path / "child.out").open("w"), (tmp_path / "child.err").open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(DELAY), CLAIM],
        env=env, cwd=tmp_path, stdout=out, stderr=err,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while delivered() < KILL_AFTER:
            if child.poll() is not None:
                log = (tmp_path / "child.err").read_text()
                pytest.fail(f"dispatcher ended before the kill: {log}")
            if time.monotonic() > deadline:
                pytest.fail("dispatcher delivered nothing in time")
            time.sleep(0.005)
        time.sleep(SETTLE)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        out.close()
        err.close()
    before = delivered()
    assert KILL_AFTER <= before < total, "the kill must land mid-batch"
    return before


# --- .eml delivery -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["before_write", "before_rename", "after_write"])
def test_killed_file_dispatcher_restarts_exactly_once(app, settings, tmp_path, mode):
    total = _fill_outbox(app)
    mail_dir = settings.mail_dir

    def emls() -> int:
        return len(list(mail_dir.glob("*.eml"))) if mail_dir.exists() else 0

    before = _kill_mid_batch(tmp_path, mode, os.environ.copy(), emls, total)
    rows = _rows(app)
    in_flight = [r for r in rows if r.status == OutboxStatus.SENDING]
    assert len(in_flight) == 1  # killed in the slow step: exactly one row was claimed
    assert {r.status for r in rows} == {
        OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.PENDING
    }
    written = {p.name: p.stat().st_mtime_ns for p in mail_dir.glob("*.eml")}
    leftovers = [p.name for p in mail_dir.glob("*.tmp")]
    in_flight_file = in_flight[0].file_name
    if mode == "after_write":  # delivered, not yet marked
        assert in_flight_file in written and leftovers == []
        assert sum(r.status == OutboxStatus.SENT for r in rows) == before - 1
    else:  # not (completely) written
        assert in_flight_file not in written
        assert sum(r.status == OutboxStatus.SENT for r in rows) == before
        expected_tmp = [in_flight_file.removesuffix(".eml") + ".tmp"]
        assert leftovers == (expected_tmp if mode == "before_rename" else [])

    # Too early for the dead claim (not yet stale): it is left alone, the rest goes out.
    early = dispatch_outbox(app, now=at(CLAIM) + STALE_AFTER - timedelta(minutes=1))
    assert early.recovered == {}
    assert {r.id for r in _rows(app) if r.status == OutboxStatus.SENDING} == {
        r.id for r in in_flight
    }

    report = dispatch_outbox(app, now=RESTART)
    rows = _rows(app)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert set(report.recovered) == {r.id for r in in_flight}
    # The file decides: there → sent; not there (a .tmp does not count) → pending → sent now.
    expected = "sent" if mode == "after_write" else "pending"
    assert report.recovered == {in_flight[0].id: expected}
    assert (in_flight[0].id in report.sent) == (expected == "pending")

    # Every key exactly one complete .eml, no leftovers, nothing written before was rewritten.
    files = sorted(mail_dir.iterdir())
    assert [p for p in files if p.suffix != ".eml"] == []
    assert {p.name for p in files} == {r.file_name for r in rows}
    parsed = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files
    ]
    by_key = {r.key: r for r in rows}
    assert Counter(m["X-Veiligheid-Key"] for m in parsed) == Counter(r.key for r in rows)
    for path, msg in zip(files, parsed, strict=True):
        row = by_key[msg["X-Veiligheid-Key"]]
        assert path.name == row.file_name and msg["Message-ID"] == row.message_id
        assert msg.get_body(("plain",)) is not None
    for name, mtime in written.items():
        assert (mail_dir / name).stat().st_mtime_ns == mtime
    assert sorted(early.sent + report.sent) == sorted(
        r.id for r in rows if r.file_name not in written
    )

    again = dispatch_outbox(app, now=RESTART + timedelta(hours=1))
    assert again.sent == [] and again.recovered == {}
    print(f"\n[eml/{mode}] total={total} delivered_before_kill={before} "
          f"in_flight={len(in_flight)} recovered={report.recovered}")


# --- SMTP delivery -------------------------------------------------------------------------------


class SlowServer:
    """Records each message and answers 250 after `delay`; stores it first when `store_first`
    (the message is safe on the server but the client has not heard so yet), else at the end."""

    def __init__(self, delay: float, store_first: bool) -> None:
        self.delay, self.store_first = delay, store_first
        self.received: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    def _store(self, envelope) -> None:  # noqa: ANN001
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append(msg)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        if self.store_first:
            self._store(envelope)
        await asyncio.sleep(self.delay)  # cancelled by aiosmtpd when the client vanishes
        if not self.store_first:
            self._store(envelope)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(m["Message-ID"] for m in self.received)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=[True, False], ids=["stored_before_reply", "stored_at_reply"])
def slow_smtp(request: pytest.FixtureRequest) -> Iterator[tuple[SlowServer, int]]:
    handler = SlowServer(DELAY, store_first=request.param)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_killed_smtp_dispatcher_restarts_without_doubling(
    app, database_url, tmp_path, slow_smtp
):
    server, port = slow_smtp
    total = _fill_outbox(app)
    env = os.environ.copy()
    env.update(VEILIGHEID_SMTP_HOST="127.0.0.1", VEILIGHEID_SMTP_PORT=str(port),
               VEILIGHEID_SMTP_TIMEOUT="5")
    before = _kill_mid_batch(tmp_path, "smtp", env, server.count, total)
    server.delay = 0.0  # the restart need not be slow
    in_flight = [r for r in _rows(app) if r.status == OutboxStatus.SENDING]
    assert len(in_flight) == 1  # killed while waiting for the server's answer
    assert sum(r.status == OutboxStatus.SENT for r in _rows(app)) == KILL_AFTER - (
        1 if server.store_first else 0
    )

    smtp_app = bootstrap(
        Settings(
            database_url=database_url, mail_dir=tmp_path / "unused", rules=ROOT / "rules",
            smtp_host="127.0.0.1", smtp_port=port, smtp_user=None, smtp_password=None,
            smtp_timeout=5.0,
        )
    )
    try:
        report = dispatch_outbox(smtp_app, now=RESTART)
        rows = _rows(smtp_app)
        by_status = Counter(r.status for r in rows)
        uncertain = [r for r in rows if r.status == OutboxStatus.UNCERTAIN]
        sent_ids = {r.message_id for r in rows if r.status == OutboxStatus.SENT}
        received = server.message_ids()

        assert set(by_status) <= {OutboxStatus.SENT, OutboxStatus.UNCERTAIN}  # none pending/sending
        assert [r.id for r in uncertain] == [r.id for r in in_flight]  # at most one, the in-flight
        assert report.recovered == {r.id: "uncertain" for r in uncertain}
        assert by_status[OutboxStatus.SENT] + len(uncertain) == total
        assert max(received.values()) == 1  # no Message-ID twice
        assert sent_ids <= set(received)  # everything marked sent did arrive
        assert set(received) - sent_ids <= {r.message_id for r in uncertain}
        delivered_uncertain = [r for r in uncertain if r.message_id in received]
        # Stored before the reply: the server has it, the dispatcher never heard (the window no
        # protocol closes). Stored at the reply: the kill cancelled it, the server has nothing.
        assert len(delivered_uncertain) == (1 if server.store_first else 0)
        assert len(received) + len(uncertain) - len(delivered_uncertain) == total

        # Not resent automatically, however often the dispatcher runs.
        later = dispatch_outbox(smtp_app, now=RESTART + timedelta(hours=2))
        assert later.sent == [] and later.recovered == {}
        assert server.message_ids() == received
        assert {r.id for r in _rows(smtp_app) if r.status == OutboxStatus.UNCERTAIN} == {
            r.id for r in uncertain
        }

        # The documented manual step (README "Exactly once"): a person looks the fixed
        # Message-ID up in the mail log and only if it is not there runs
        # `veiligheid outbox retry ID`.
        for row in uncertain:
            if row.message_id in received:
                continue  # it arrived: retrying would double it, so the person leaves it
            with smtp_app.unit_of_work() as session:
                retry(session, row.id, now=RESTART + timedelta(hours=3))
            again = dispatch_outbox(smtp_app, now=RESTART + timedelta(hours=3))
            assert again.sent == [row.id]
            assert next(r for r in _rows(smtp_app) if r.id == row.id).status == OutboxStatus.SENT
        final = server.message_ids()
        assert max(final.values()) == 1
        assert set(final) == {r.message_id for r in _rows(smtp_app)}
        print(f"\n[smtp/store_first={server.store_first}] total={total} "
              f"received_before_kill={before} uncertain={len(uncertain)} "
              f"uncertain_already_delivered={len(delivered_uncertain)}")
    finally:
        smtp_app.close()
