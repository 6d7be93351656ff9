"""The Prefect flows run the same jobs against the same database (both backends)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import select

from flows.veiligheid_flows import (
    outbox_dispatch_flow,
    reminders_flow,
    weekly_digest_flow,
)
from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.events import emit_crisis_event
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.programme.models import PortfolioHolder


def _parse(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _load(app) -> None:
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)


def test_reminders_flow_writes_eml_once(app, settings):
    _load(app)
    # 2023-10-02 has no reminder lead day in the example (leads fall on 29-09 and 06-10);
    # 2023-10-10 has two (due 10-10 on the day, due 24-10 ten working days ahead).
    assert reminders_flow(now="2023-10-02T08:05")["enqueued"] == 0
    result = reminders_flow(now="2023-10-10T08:05")
    files = sorted(settings.mail_dir.glob("*.eml"))
    assert files, result
    assert result["enqueued"] == result["sent"] == len(files)
    with app.sessions() as session:
        rows = {r.file_name: r for r in session.scalars(select(OutboxMessage))}
    assert {r.status for r in rows.values()} == {OutboxStatus.SENT}
    for path in files:
        msg = _parse(path)
        row = rows[path.name]
        assert row.kind == "reminder"
        assert msg["To"].addresses[0].addr_spec == row.recipient
        assert msg["Message-ID"] == row.message_id
        calendars = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        assert len(calendars) == 1
        cal = Calendar.from_ical(calendars[0].get_payload(decode=True))
        assert list(cal.walk("VEVENT"))

    again = reminders_flow(now="2023-10-10T08:05")
    assert again["enqueued"] == 0 and again["sent"] == 0
    later = reminders_flow(now="2023-10-10T15:00")
    assert later["enqueued"] == 0
    assert sorted(settings.mail_dir.glob("*.eml")) == files


def test_weekly_digest_flow_one_per_holder(app, settings):
    _load(app)
    result = weekly_digest_flow(now="2023-10-02T08:05")  # a Monday
    files = sorted(settings.mail_dir.glob("*.eml"))
    with app.sessions() as session:
        holders = set(session.scalars(select(PortfolioHolder.email)))
    recipients = [_parse(p)["To"].addresses[0].addr_spec for p in files]
    assert sorted(recipients) == sorted(holders)
    assert result["sent"] == len(holders)
    assert weekly_digest_flow(now="2023-10-03T08:05")["enqueued"] == 0  # Tuesday: same week


def test_outbox_dispatch_flow_with_empty_outbox(app, settings):
    assert outbox_dispatch_flow(now="2023-10-02T08:05")["sent"] == 0


def test_emit_crisis_event_needs_api_url(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert emit_crisis_event(42, "declared") is False


def _crisis_events(more_than: int = -1) -> list[tuple[str, str]]:
    """Events named veiligheid.crisis.* that the (harness) Prefect server has stored; waits
    (up to 10 s) until there are more than `more_than`."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def read() -> list[tuple[str, str]]:
        async with get_client() as client:
            for _ in range(40):
                response = await client._client.post(
                    "/events/filter",
                    json={
                        "filter": {
                            "event": {"prefix": ["veiligheid.crisis."]},
                            "occurred": {"since": "2000-01-01T00:00:00Z"},
                        }
                    },
                )
                events = response.json().get("events") or []
                if len(events) > more_than:
                    return [(e["event"], e["resource"]["prefect.resource.id"]) for e in events]
                await asyncio.sleep(0.25)
        return [(e["event"], e["resource"]["prefect.resource.id"]) for e in events]

    return asyncio.run(read())


def test_crisis_declared_from_the_cli_reaches_the_prefect_server(app, monkeypatch):
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from veiligheid_flow.entrypoints.cli.main import app as cli

    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    before = _crisis_events()

    result = CliRunner().invoke(
        cli,
        [
            "crisis",
            "declare",
            "Grote brand",
            "--grip",
            "2",
            "--by",
            "burgemeester",
            "--theme",
            "VEERKRACHTIGE_WIJKEN",
            "--now",
            "2023-10-02T10:00",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "veiligheid.crisis.declared" in result.output
    after = _crisis_events(more_than=len(before))
    assert len(after) == len(before) + 1
    assert ("veiligheid.crisis.declared", "veiligheid.crisis.1") in after
