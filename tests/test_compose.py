"""Message composition: header safety and what the weekly digest shows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.mail.compose import Draft, digest
from veiligheid_flow.programme.models import PortfolioHolder


@pytest.mark.parametrize(
    "field, value",
    [
        ("key", "k\r\nBcc: x@example.nl"),
        ("recipient", "a@example.nl\nBcc: x"),
        ("recipient", "niet-een-adres"),
    ],
)
def test_a_draft_refuses_header_injection_and_bad_addresses(field, value):
    fields = {
        "key": "k",
        "kind": "reminder",
        "recipient": "a@example.nl",
        "subject": "s",
        "text": "t",
        "html": "h",
        field: value,
    }
    with pytest.raises(ValueError):
        Draft(**fields)


def test_a_draft_subject_is_one_line_that_fits():
    """A subject is built from titles: a line break becomes a space (never a new header) and a
    subject longer than its column is shortened."""
    draft = Draft("k", "reminder", "a@example.nl", "Herinnering\r\nBcc: x@example.nl", "t", "h")
    assert draft.subject == "Herinnering Bcc: x@example.nl"
    long = Draft("k", "reminder", "a@example.nl", "x" * 400, "t", "h")
    assert len(long.subject) == 300 and long.subject.endswith("…")


def test_digest_puts_escalations_and_overdue_first(app):
    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    now = at("2023-10-09T08:05")
    commands.refresh(app, now=now)
    with app.sessions() as session:
        holder = session.scalars(select(PortfolioHolder).where(PortfolioHolder.key == "WW")).one()
        draft = digest(session, now=now, holder=holder, book=app.rulebook())

    assert draft.recipient == holder.email
    assert draft.key.endswith("2023-W41")
    assert "geëscaleerd naar achtervang" in draft.text
    assert "Niets vraagt deze week uw aandacht" not in draft.text
    assert draft.text.index("VRAAGT UW AANDACHT") < draft.text.index("VOORTGANG PER THEMA")
    section = draft.text.split("VRAAGT UW AANDACHT")[1].split("VOORTGANG PER THEMA")[0]
    lines = [line.split(" — ")[0] for line in section.splitlines() if line.startswith("- [")]
    assert len(lines) == len(set(lines))  # a repeated activity is one line with a count
    assert " keer (taken " in section


def test_digest_says_so_when_nothing_needs_attention(app):
    now = at("2023-03-06T08:05")
    commands.load(app, EXAMPLE, now=now, by=SYSTEM)
    with app.sessions() as session:
        holder = session.scalars(select(PortfolioHolder).where(PortfolioHolder.key == "WF")).one()
        draft = digest(session, now=now, holder=holder, book=app.rulebook())

    assert "Niets vraagt deze week uw aandacht" in draft.text
    assert "Niets vraagt deze week uw aandacht" in draft.html
    assert draft.subject.endswith(": niets vraagt uw aandacht")


def test_crisis_notices_one_email_per_person_with_what_changed(app):
    from veiligheid_flow.mail.models import OutboxMessage

    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    declared = commands.declare_crisis(
        app,
        "Grote brand",
        grip=2,
        by="BM",
        now=at("2023-10-02T10:00"),
        themes=["VEERKRACHTIGE_WIJKEN"],
        staff=[],
        expected_days=None,
    )
    commands.end_crisis(app, declared.subject_id, by="BM", now=at("2023-10-13T17:00"))

    with app.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "crisis")).all()
    declare = [r for r in rows if r.key.endswith(":declare")]
    end = [r for r in rows if r.key.endswith(":end")]
    paused = [c for c in declared.changes if c.after.get("paused") is True]
    assert paused and declare and end
    assert len({r.recipient for r in declare}) == len(declare)  # one email per person
    assert all("ligt stil door de crisis" in r.text_body for r in declare)
    assert all("wordt hervat" in r.text_body for r in end)
    moved = [r for r in end if "nieuwe deadline" in r.text_body]  # only displaced work moves
    dated = re.compile(r"nieuwe deadlines? (ma|di|wo|do|vr) \d")
    assert moved and all(dated.search(r.text_body) for r in moved)
    covered = sum(covered_tasks(r.text_body) for r in declare)
    assert covered >= len(paused)  # every paused task is in (or counted by) its email
    assert all(r.text_body.count("GRIP 2") == 1 for r in declare)
    assert all("Marieke Verbeek heeft op ma 2 okt 2023 om 10:00" in r.text_body for r in declare)


def covered_tasks(text: str) -> int:
    """Tasks a crisis notice lists ("- 15× …" counts 15) or counts ("… en 3 andere taken")."""
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    listed = sum(int(m.group(1)) if (m := re.match(r"- (\d+)× ", line)) else 1 for line in lines)
    more = re.search(r"en (\d+) andere ta(?:ak|ken)", text)
    return listed + (int(more.group(1)) if more else 0)


def test_renaming_the_escalation_rule_does_not_change_the_mail(settings, tmp_path):
    """The mail knows an escalation by what the rule does (the backup takes over a late task),
    not by its id: the same messages with the rule renamed."""
    import shutil

    from veiligheid_flow.bootstrap import bootstrap
    from veiligheid_flow.mail.models import OutboxMessage
    from veiligheid_flow.settings import Settings

    renamed = tmp_path / "regels"
    shutil.copytree(ROOT / "rules", renamed)
    path = renamed / "responsibility.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("VERANTW-ESCALATIE", "VERANTW-LAAT"),
        encoding="utf-8",
    )
    kinds = []
    for rules, db in ((ROOT / "rules", "a.db"), (renamed, "b.db")):
        app = bootstrap(
            Settings(database_url=f"sqlite:///{tmp_path / db}", rules=rules, mail_dir=tmp_path)
        )
        commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
        for day in range(2, 21):  # every day (a longer stop would start with a summary)
            run_job(app, JOBS_BY_NAME["overdue"], now=at(f"2023-03-{day:02d}T09:00"))
        with app.sessions() as session:
            kinds.append(
                sorted(session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all())
            )
            digest_text = digest(
                session, now=at("2023-03-20T09:00"),
                holder=session.scalars(select(PortfolioHolder)).first(), book=app.rulebook(),
            ).text
        kinds[-1].append(("digest-escalated", "geëscaleerd" in digest_text))
        app.close()
    assert any(kind == "escalation" for kind, _ in kinds[0])
    assert ("digest-escalated", True) in kinds[0]
    assert kinds[0] == kinds[1]


def test_a_crisis_notice_names_the_statutory_work_that_goes_on(app):
    from veiligheid_flow.mail.models import OutboxMessage

    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    commands.declare_crisis(
        app, "Brand", grip=2, by="BM", now=at("2023-10-02T10:00"),
        themes=["ZORG_EN_VEILIGHEID"], staff=[], expected_days=None,
    )
    with app.sessions() as session:
        notices = {
            r.recipient: r.text_body
            for r in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "crisis"))
        }
    # Emre Yilmaz is responsible for the statutory alcohol plan in the crisis's theme.
    assert "Je wettelijke taken gaan door: Preventie- en handhavingsplan alcohol" in (
        notices["e.yilmaz@example.nl"]
    )
    others = [text for who, text in notices.items() if who != "e.yilmaz@example.nl"]
    assert others and all("Je wettelijke taken" not in text for text in others)
