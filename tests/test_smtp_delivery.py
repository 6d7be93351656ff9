"""Real SMTP delivery (aiosmtpd on loopback), no Prefect: exactly once, escaping, back-off."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import dispatch_outbox, run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.settings import Settings

NOW = "2023-10-10T08:05"  # reminders (with .ics), escalations and the week's digest are due
SCRIPT = "<script>alert(1)</script>"


class Recorder:
    """Stores every accepted message; refuses the first `refuse` DATA commands with 451."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = 0
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 try later"
            msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            self.received.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        return Counter(msg["Message-ID"] for _, msg in self.received)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def programme(tmp_path: Path) -> Path:
    """The example with `<script>` in every (block-style) task title."""
    text = EXAMPLE.read_text(encoding="utf-8")
    edited, n = re.subn(
        r"^(\s+title: )([^\"'{\n][^\n]*)$", rf"\g<1>{SCRIPT} \g<2>", text, flags=re.M
    )
    assert n > 10
    path = tmp_path / "programma.yaml"
    path.write_text(edited, encoding="utf-8")
    return path


@pytest.fixture
def smtp_app(
    database_url: str, tmp_path: Path, smtp: tuple[Recorder, int], programme: Path
) -> Iterator[App]:
    settings = Settings(
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        rules=ROOT / "rules",
        programme=programme,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_user=None,
        smtp_password=None,
        smtp_timeout=5.0,
    )
    application = bootstrap(settings)
    commands.load(application, programme, now=at("2023-09-29T09:00"), by=SYSTEM)
    yield application
    application.close()


def _rows(app: App) -> list[OutboxMessage]:
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


def test_delivery_exactly_once_escaped_with_ics(smtp_app, smtp):
    handler, _ = smtp
    results, report = run_due(smtp_app, now=at(NOW))
    rows = _rows(smtp_app)
    assert rows and len(report.sent) == len(rows) and not report.retried
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert {r.kind for r in rows} >= {"reminder", "digest"}

    by_id = {r.message_id: r for r in rows}
    assert handler.message_ids() == Counter(by_id.keys())  # each exactly once
    with_ics = 0
    for rcpt_tos, msg in handler.received:
        row = by_id[msg["Message-ID"]]
        assert sorted(rcpt_tos) == sorted([row.recipient, *row.cc])
        assert [a.addr_spec for a in msg["To"].addresses] == [row.recipient]
        assert msg["Subject"] == row.subject
        html = msg.get_body(("html",)).get_content()
        assert "<script>" not in html
        text = msg.get_body(("plain",)).get_content()
        if SCRIPT in text:  # the title is in this message: escaped in the HTML
            assert "&lt;script&gt;" in html
        for part in msg.walk():
            if part.get_content_type() == "text/calendar":
                cal = Calendar.from_ical(part.get_payload(decode=True))
                assert list(cal.walk("VEVENT"))
                with_ics += 1
    assert with_ics == sum(1 for r in rows if r.ics)
    assert with_ics > 0
    assert any("&lt;script&gt;" in m.get_body(("html",)).get_content() for _, m in handler.received)

    # Again, same moment and later the same day: nothing new.
    run_due(smtp_app, now=at(NOW))
    run_due(smtp_app, now=at(NOW) + timedelta(hours=6))
    assert len(handler.received) == len(rows)
    assert len(_rows(smtp_app)) == len(rows)


def test_refusing_server_backs_off_then_delivers_once(smtp_app, smtp):
    handler, _ = smtp
    handler.refuse = 3
    start = at(NOW)
    _, report = run_due(smtp_app, now=start)
    assert report.sent == [] and len(report.retried) == 1
    rows = _rows(smtp_app)
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    refused = next(r for r in rows if r.id == report.retried[0])
    assert refused.attempts == 1 and refused.next_attempt_at > start
    assert "451" in (refused.last_error or "")
    assert handler.received == []

    moment = start
    for _ in range(20):
        if all(r.status == OutboxStatus.SENT for r in _rows(smtp_app)):
            break
        moment += timedelta(minutes=30)
        dispatch_outbox(smtp_app, now=moment)
    rows = _rows(smtp_app)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert handler.refused == 3
    assert handler.message_ids() == Counter(r.message_id for r in rows)
    assert max(r.attempts for r in rows) >= 2


def test_two_dispatchers_on_postgresql(smtp_app, smtp, backend):
    if backend != "postgresql":
        pytest.skip("concurrent claims are a PostgreSQL concern (SKIP LOCKED)")
    handler, _ = smtp
    from veiligheid_flow.app.jobs import JOBS, run_job

    for job in JOBS:
        run_job(smtp_app, job, now=at(NOW))
    rows = _rows(smtp_app)
    assert len(rows) > 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            barrier.wait()
            dispatch_outbox(smtp_app, now=at(NOW), worker=name)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    rows = _rows(smtp_app)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert handler.message_ids() == Counter(r.message_id for r in rows)
    assert {r.claimed_by for r in rows} <= {"a", "b"}
