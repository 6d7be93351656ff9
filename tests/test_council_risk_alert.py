"""Issue 11, point 2: a council deadline that a crisis puts at risk reaches the portfolio
holder of the item and the owners of its work at once, at declare (or update) time, not in
Monday's digest."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.mail.models import OutboxMessage

HOLDER = "g.prins@example.nl"  # WV, holder of TA23-11-FATBIKES (deadline 19 Oct 2023)
OWNER = "j.smit@example.nl"  # VKR, owns the linked activity E01


def _alerts(app: App) -> list[OutboxMessage]:
    with app.sessions() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "council_risk"))
        )
        session.expunge_all()
    return rows


def test_a_council_deadline_at_risk_is_sent_at_declare_time(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    commands.declare_crisis(
        app, "Grote brand", grip=2, by="BM", now=at("2023-10-02T10:00"),
        themes=["VERKEERSVEILIGHEID"], staff=[], expected_days=15,
    )
    alerts = _alerts(app)
    assert {r.recipient for r in alerts} >= {HOLDER, OWNER}
    assert len({r.recipient for r in alerts}) == len(alerts)  # one per person
    for row in alerts:
        assert "IN GEVAAR" in row.subject and "Aanpak fatbikes" in row.subject
        assert "do 19 okt 2023" in row.text_body and "Grote brand" in row.text_body
        assert row.created_at == at("2023-10-02T10:00")


def test_a_crisis_that_puts_no_council_deadline_at_risk_sends_no_such_alert(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    commands.declare_crisis(
        app, "Kleine brand", grip=1, by="BM", now=at("2023-10-02T10:00"),
        themes=["VERKEERSVEILIGHEID"], staff=[], expected_days=3,
    )
    assert _alerts(app) == []
