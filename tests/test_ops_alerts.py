"""Admin alerts (ADMIN_EMAILS) through the outbox, with a real SMTP server on loopback: a
failed message, a stalled outbox and a failed job are each alerted once, with the command to
act; an alert that cannot be delivered is not alerted about, but shows in `status`."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from tests.test_ops_job_isolation import allow_council_alerts, refuse_council_alerts
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import dispatch_outbox, run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.mail.dispatch import retry
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.ops import alerts, exitcodes, failures
from veiligheid_flow.ops.status import check
from veiligheid_flow.settings import Settings

ADMIN = "beheer@example.nl"
REFUSED = "j.smit@example.nl"  # gets a council alert on 2023-10-12
DAY = "2023-10-12T08:05"


class Server:
    """Accepts everything, except: RCPT of an address in `refuse` (550, permanent) and DATA for
    a recipient in `down` or for anyone while `all_down` (451, try later)."""

    def __init__(self) -> None:
        self.refuse: set[str] = set()
        self.down: set[str] = set()
        self.all_down = False
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: ANN001
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        if self.all_down or set(envelope.rcpt_tos) & self.down:
            return "451 4.3.0 try later"
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append(msg)
        return "250 OK"

    def alerts(self) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == ADMIN]


@pytest.fixture
def server() -> Iterator[tuple[Server, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_app(database_url: str, tmp_path: Path, server: tuple[Server, int]) -> Iterator[App]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        rules=ROOT / "rules",
        smtp_host="127.0.0.1",
        smtp_port=server[1],
        smtp_timeout=5.0,
        admin_emails=ADMIN,
    )
    application = bootstrap(settings)
    commands.load(application, EXAMPLE, now=at("2023-10-11T09:00"), by=SYSTEM)
    # The first run of the day before: its start summaries go out before the tests begin, so
    # 12 October is an ordinary day (summaries: tests/test_catch_up_truth.py).
    run_due(application, now=at("2023-10-11T09:05"))
    yield application
    application.close()


def rows(app: App, kind: str | None = None) -> list[OutboxMessage]:
    with app.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.scalars(query))


def body(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_a_failed_message_is_alerted_once_with_the_retry_command(smtp_app, server):
    handler, _ = server
    handler.refuse.add(REFUSED)

    run_due(smtp_app, now=at(DAY))

    (failed,) = [r for r in rows(smtp_app) if r.status == OutboxStatus.FAILED]
    assert failed.recipient == REFUSED and "550" in failed.last_error
    (alert,) = handler.alerts()
    assert alert["Subject"] == "Beheer veiligheid-flow: 1 bericht(en) mislukt"
    text = body(alert)
    assert f"Bericht {failed.id} aan {REFUSED}" in text and failed.subject in text
    assert "Niet afgeleverd" in text and "550" in text and "mailbox unavailable" in text
    assert f"veiligheid outbox retry {failed.id}" in text
    assert [r.status for r in rows(smtp_app, "admin_alert")] == [OutboxStatus.SENT]

    # The same problem is not alerted again, however often the outbox is dispatched.
    for moment in ("2023-10-12T08:10", "2023-10-12T09:00", "2023-10-13T08:05"):
        dispatch_outbox(smtp_app, now=at(moment))
    assert len(handler.alerts()) == 1

    # Retried and refused again: a new attempt is a new problem, alerted once more.
    with smtp_app.unit_of_work() as session:
        retry(session, failed.id, now=at("2023-10-13T09:00"), by="beheer")
    dispatch_outbox(smtp_app, now=at("2023-10-13T09:00"))
    dispatch_outbox(smtp_app, now=at("2023-10-13T09:30"))
    assert len(handler.alerts()) == 2
    assert len(rows(smtp_app, "admin_alert")) == 2


def test_a_stalled_outbox_is_alerted_once_and_a_stuck_alert_shows_in_status(smtp_app, server):
    handler, _ = server
    handler.all_down = True
    run_due(smtp_app, now=at(DAY))
    dispatch_outbox(smtp_app, now=at("2023-10-12T08:30"))  # 25 minutes: not yet stalled
    assert rows(smtp_app, "admin_alert") == []

    dispatch_outbox(smtp_app, now=at("2023-10-12T08:40"))  # 35 minutes: stalled
    (alert_row,) = rows(smtp_app, "admin_alert")
    assert alert_row.status == OutboxStatus.PENDING  # the server is down for it too
    assert "outbox staat stil" in alert_row.subject and "wachten" in alert_row.text_body

    # The rest gets through, the alert does not: nobody is alerted about the alert.
    handler.all_down, handler.down = False, {ADMIN}
    for moment in ("2023-10-12T09:30", "2023-10-12T09:45", "2023-10-12T10:00"):
        dispatch_outbox(smtp_app, now=at(moment))
    others = [r for r in rows(smtp_app) if r.kind != "admin_alert"]
    assert others and {r.status for r in others} == {OutboxStatus.SENT}
    assert [r.status for r in rows(smtp_app, "admin_alert")] == [OutboxStatus.PENDING]
    stuck = check(smtp_app.settings, now=at("2023-10-12T10:15"))
    assert stuck.exit_code == exitcodes.MAIL_PROBLEM
    assert (stuck.outbox.oldest_pending.id, stuck.outbox.oldest_pending.kind) == (
        alert_row.id,
        "admin_alert",
    )

    handler.down = set()
    dispatch_outbox(smtp_app, now=at("2023-10-12T11:00"))
    (alert,) = handler.alerts()
    assert "staat stil" in body(alert) and "veiligheid status" in body(alert)
    assert check(smtp_app.settings, now=at("2023-10-12T11:05")).exit_code == exitcodes.OK


def test_a_failed_job_is_alerted_once_per_slot(smtp_app, server):
    handler, _ = server
    run_due(smtp_app, now=at("2023-10-11T08:05"))
    refuse_council_alerts(smtp_app)
    try:
        run_due(smtp_app, now=at(DAY))
        run_due(smtp_app, now=at("2023-10-12T08:10"))  # fails again, same slot: no new alert
    finally:
        allow_council_alerts(smtp_app)

    (alert,) = handler.alerts()
    assert alert["Subject"] == "Beheer veiligheid-flow: 1 taak/taken mislukt"
    text = body(alert)
    assert "Taak council_alerts is mislukt" in text and "value too long" in text
    assert "veiligheid run" in text


def test_admin_emails_are_checked_when_the_settings_are_read():
    assert Settings(_env_file=None, admin_emails="a@x.nl, B@y.nl").admin_emails == [
        "a@x.nl",
        "b@y.nl",
    ]
    with pytest.raises(ValidationError, match="ongeldig e-mailadres 'beheer' in ADMIN_EMAILS"):
        Settings(_env_file=None, admin_emails="beheer")


def test_an_uncertain_message_is_alerted_with_its_message_id_and_both_commands(smtp_app, server):
    handler, _ = server
    run_due(smtp_app, now=at(DAY))
    # What a dispatcher killed between the server's acceptance and its commit leaves behind
    # (tests/test_dispatch_crash.py kills one for real): a row claimed and never settled.
    with smtp_app.unit_of_work() as session:
        row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        row.status, row.claimed_at, row.claimed_by = OutboxStatus.SENDING, at(DAY), "dood:1"
        crashed_id, message_id = row.id, row.message_id

    dispatch_outbox(smtp_app, now=at("2023-10-12T08:20"))  # > 10 minutes: recovered

    with smtp_app.sessions() as session:
        assert session.get(OutboxMessage, crashed_id).status == OutboxStatus.UNCERTAIN
    (alert,) = handler.alerts()
    text = body(alert)
    assert alert["Subject"] == "Beheer veiligheid-flow: 1 bericht(en) onzeker"
    assert message_id in text
    assert f"veiligheid outbox confirm {crashed_id}" in text
    assert f"veiligheid outbox retry {crashed_id}" in text
    assert check(smtp_app.settings, now=at("2023-10-12T08:25")).exit_code == exitcodes.MAIL_PROBLEM


def test_two_dispatchers_alerting_at_the_same_moment_send_one_alert(app, settings):
    failures.record(app.sessions, "council_alerts", "2023-10-12", at(DAY), ValueError("kapot"))
    config = settings.model_copy(update={"admin_emails": [ADMIN]})
    barrier, counts = threading.Barrier(2), []

    def alert() -> None:
        barrier.wait(timeout=10)
        counts.append(alerts.alert_admins(app.sessions, config, now=at("2023-10-12T08:10")))

    threads = [threading.Thread(target=alert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(counts) == [0, 1]
    (row,) = rows(app, "admin_alert")
    assert row.recipient == ADMIN and "kapot" in row.text_body
