"""Issue 11, point 1: after the programme's end the CLI and one last digest say so (and how to
look at a moment inside it), instead of greeting a newcomer with two hundred overdue tasks
and no word why."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import OutboxMessage


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args))


def test_week_after_the_end_says_the_programme_ended(settings) -> None:
    assert run("load", str(EXAMPLE), "--by", "OOV1", "--now", "2023-03-01T09:00").exit_code == 0
    after = run("week", "--now", "2026-12-01T09:00")
    assert after.exit_code == 0, after.output
    text = " ".join(after.output.split())
    assert "programma UPV-2023-2024 (Huizen) is geëindigd op 31-12-2024" in text
    assert "Kijk met --now naar een moment erin, bv. --now 2024-" in text
    inside = run("week", "--now", "2023-10-02T09:00")
    assert "geëindigd" not in inside.output


def test_one_last_digest_says_the_programme_ended_then_none(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2024-12-20T09:00"))
    job = JOBS_BY_NAME["weekly_digest"]

    def digests(when: str) -> list[OutboxMessage]:
        run_job(app, job, now=at(when))
        with app.sessions() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest"))
            found = [r for r in rows if r.created_at == at(when)]
            session.expunge_all()
        return found

    inside = digests("2024-12-23T08:05")
    assert inside and not any("geëindigd" in r.text_body for r in inside)
    last = digests("2025-01-06T08:05")
    assert {r.recipient for r in last} == {r.recipient for r in inside}
    for row in last:
        assert "laatste weekoverzicht" in row.subject
        text = " ".join(row.text_body.split())
        assert "Het programma UPV-2023-2024 (Huizen) is geëindigd op di 31 dec 2024." in text
    assert digests("2025-01-13T08:05") == []
