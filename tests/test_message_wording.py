"""Issue 11, point 3: messages in the words people use: Dutch dates ("vr 13 okt 2023"), names
instead of addresses, theme names instead of codes, the right singular or plural, and no claim
of a copy that was not sent."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.conftest import EXAMPLE, at
from tests.test_catch_up_truth import _run
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.mail.render import count, dutch_date

ANNA = "a.devries@example.nl"
ADDRESS = re.compile(r"[\w.-]+@[\w.-]+")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(date(2023, 10, 13), "vr 13 okt 2023"), ("2024-03-04", "ma 4 mrt 2024"), (None, "")],
)
def test_dates_are_written_the_dutch_way(value, shown) -> None:
    assert dutch_date(value) == shown


def test_counts_take_the_right_form() -> None:
    assert [count(n, "taak", "taken") for n in (0, 1, 2)] == ["0 taken", "1 taak", "2 taken"]


def test_reminders_and_overdue_notices_name_people_themes_and_dates(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    _run(app, "reminders", "2023-10-10T08:05")
    reminders = _run(app, "reminders", "2023-10-11T08:05")
    assert reminders
    for row in reminders:
        body = row.text_body.split("\n", 1)[1]  # after "Beste …,"
        assert not re.search(r"\d{4}-\d{2}-\d{2}", body), body  # no ISO dates
        assert not ADDRESS.search(body), body
        assert re.search(r"deadline (ma|di|wo|do|vr|za|zo) \d{1,2} \w{3} 20\d\d", body), body
        assert "ONDERMIJNING" not in body and "WIJKEN" not in body  # theme codes
    _run(app, "overdue", "2023-10-10T08:05")  # the first run: a summary
    notices = [r for r in _run(app, "overdue", "2023-10-11T08:05") if r.kind == "overdue"]
    assert notices
    for row in notices:
        assert not ADDRESS.search(row.text_body.split("\n", 1)[1])
        assert ("In de kopie:" in row.html_body) == bool(row.cc)


def test_an_overdue_notice_without_a_copy_does_not_claim_one(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    _run(app, "overdue", "2023-10-10T08:05")  # the first run: a summary
    copied = [r for r in _run(app, "overdue", "2023-10-11T08:05") if r.cc]
    assert copied
    commands.add_absence(
        app, copied[0].cc[0], start=date(2023, 10, 12), end=date(2023, 10, 31), by=ANNA,
        now=at("2023-10-11T09:00"), reason=None,
    )
    later = [r for r in _run(app, "overdue", "2023-10-16T08:05") if r.kind == "overdue"]
    alone = [r for r in later if not r.cc]
    assert alone and all("kopie" not in r.html_body for r in alone)


def test_the_digest_opens_with_a_summary_and_the_active_crisis(app: App) -> None:
    from sqlalchemy import select

    from veiligheid_flow.mail.compose import digest
    from veiligheid_flow.programme.models import PortfolioHolder

    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    commands.declare_crisis(
        app, "Grote brand", grip=2, by="BM", now=at("2023-10-02T10:00"),
        themes=["VEERKRACHTIGE_WIJKEN"], staff=[], expected_days=None,
    )
    with app.sessions() as session:
        mayor = session.scalars(
            select(PortfolioHolder).where(PortfolioHolder.key == "BM")
        ).one()
        draft = digest(session, now=at("2023-10-09T08:00"), holder=mayor, book=app.rulebook())
    lines = [line for line in draft.text.splitlines() if line.strip()]
    assert lines[1].startswith("Op uw thema's: ") and " te laat; " in lines[1]
    assert lines[2].startswith("LOPENDE CRISIS: Grote brand (GRIP 2, sinds ma 2 okt 2023")
    assert "Lopende crisis: Grote brand" in draft.html
    assert "gereed &nbsp;" in draft.html and "te laat &nbsp;" in draft.html  # the legend
    for heading in ("TERMIJNAGENDA KOMENDE WEKEN", "BUDGET"):  # only with content
        if heading in draft.text:
            after = draft.text.split(heading, 1)[1].lstrip("\n")
            assert after.startswith("- "), (heading, after[:80])
