"""`veiligheid status`: database reachable and migrated, each job's last slot against the slot
it should have covered, the outbox, and an exit code an operator's monitoring can read."""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_ops_job_isolation import allow_council_alerts, refuse_council_alerts
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS, run_due, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.db import make_engine, upgrade
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.ops import exitcodes


def status(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["status", *map(str, args)])


def as_json(now: str) -> tuple[int, dict[str, Any]]:
    result = status("--json", "--now", now)
    return result.exit_code, json.loads(result.stdout)


def test_in_order_after_a_run_then_missed_once_the_next_slot_passes(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-10-11T09:00"), by=SYSTEM)
    run_due(app, now=at("2023-10-12T08:05"))

    code, data = as_json("2023-10-12T09:00")
    assert code == exitcodes.OK, data
    assert data["revision"] == data["head"] and data["error"] is None
    jobs = {j["job"]: j for j in data["jobs"]}
    assert set(jobs) == {job.name for job in JOBS}
    assert jobs["reminders"]["last_slot"] == "2023-10-12" and not jobs["reminders"]["missed"]
    assert jobs["weekly_digest"]["expected_slot"] == "2023-10-09"  # that week's Monday
    assert data["outbox"]["counts"]["sent"] > 0 and data["outbox"]["counts"]["pending"] == 0

    # Friday 08:30: the slot is due, the job has not run, but it is within the grace.
    assert status("--now", "2023-10-13T08:30").exit_code == exitcodes.OK
    # Friday 09:30 and on Saturday: Friday's slot was missed by every working-day job.
    for moment in ("2023-10-13T09:30", "2023-10-14T12:00"):
        code, data = as_json(moment)
        missed = {j["job"] for j in data["jobs"] if j["missed"]}
        assert code == exitcodes.JOB_FAILED
        assert missed == {job.name for job in JOBS if not job.weekly}, moment
    text = status("--now", "2023-10-13T09:30")
    assert "GEMIST" in text.stdout and "Actie nodig" in text.stdout

    run_due(app, now=at("2023-10-13T09:35"))  # a late run catches up: in order again
    assert status("--now", "2023-10-13T09:40").exit_code == exitcodes.OK


def test_mail_stuck_beyond_the_threshold(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-10-11T09:00"), by=SYSTEM)
    for job in JOBS:  # composed but never dispatched: the dispatcher is down
        run_job(app, job, now=at("2023-10-12T08:05"))
    with app.sessions() as session:
        pending = len(list(session.scalars(select(OutboxMessage.id))))
    assert pending > 0

    code, data = as_json("2023-10-12T08:30")
    assert code == exitcodes.OK and data["outbox"]["oldest_pending"]["minutes"] == 25

    code, data = as_json("2023-10-12T08:40")
    assert code == exitcodes.MAIL_PROBLEM
    assert data["outbox"]["counts"]["pending"] == data["outbox"]["oldest_pending"]["pending"]
    assert data["outbox"]["counts"]["pending"] == pending
    assert data["outbox"]["oldest_pending"]["minutes"] == 35 and data["outbox"]["stuck"]


def test_a_failed_job_shows_with_its_error_and_clears_when_caught_up(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at("2023-10-09T08:05"))
    refuse_council_alerts(app)
    try:
        run_due(app, now=at("2023-10-12T08:05"))
    finally:
        allow_council_alerts(app)

    code, data = as_json("2023-10-12T08:10")
    jobs = {j["job"]: j for j in data["jobs"]}
    assert code == exitcodes.JOB_FAILED
    assert jobs["council_alerts"]["failure"]["slot"] == "2023-10-12"
    assert "value too long" in jobs["council_alerts"]["failure"]["error"]
    assert jobs["reminders"]["failure"] is None
    assert "MISLUKT" in status("--now", "2023-10-12T08:10").stdout

    run_due(app, now=at("2023-10-12T08:15"))
    assert status("--now", "2023-10-12T08:20").exit_code == exitcodes.OK


def test_unreachable_database_is_one_line_with_the_password_masked(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "VEILIGHEID_DATABASE_URL", "postgresql+psycopg://beheer:geheim@127.0.0.1:9/veiligheid"
    )
    result = status("--now", "2023-10-12T09:00")
    assert result.exit_code == exitcodes.INPUT_ERROR
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Database niet bereikbaar: ")
    assert "beheer:***@127.0.0.1:9/veiligheid" in lines[0] and "geheim" not in result.output

    monkeypatch.setenv("VEILIGHEID_DATABASE_URL", f"sqlite:///{tmp_path / 'nergens.db'}")
    missing = status("--now", "2023-10-12T09:00")
    assert missing.exit_code == exitcodes.INPUT_ERROR and "bestaat niet" in missing.stderr
    assert not (tmp_path / "nergens.db").exists()  # status creates nothing


def test_a_database_behind_the_migrations_is_reported_not_migrated(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'oud.db'}"
    engine = make_engine(url)
    upgrade(engine, "0004")
    engine.dispose()
    monkeypatch.setenv("VEILIGHEID_DATABASE_URL", url)

    result = status("--now", "2023-10-12T09:00")

    assert result.exit_code == exitcodes.INPUT_ERROR
    assert "niet bijgewerkt: versie 0004" in result.stderr and "db upgrade" in result.stderr
    code, data = as_json("2023-10-12T09:00")
    assert code == exitcodes.INPUT_ERROR and data["revision"] == "0004"
