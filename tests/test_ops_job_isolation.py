"""A failing job stops neither the other jobs nor the dispatch; `veiligheid run` reports it.

The failure is real: a database trigger refuses every council alert the job tries to write
(on PostgreSQL with the error PostgreSQL gives for a value that is too long)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.scheduler import direct_runner
from veiligheid_flow.mail.models import JobRun, OutboxMessage, OutboxStatus
from veiligheid_flow.ops.exitcodes import JOB_FAILED
from veiligheid_flow.ops.models import JobFailure

PRIMED = "2023-10-09T08:05"  # every job covers this Monday first
DAY = "2023-10-12T08:05"  # then Thursday: reminders, overdue and council alerts are due
VEILIGHEID = str(Path(sys.executable).parent / "veiligheid")
TOO_LONG = "value too long for type character varying(300)"


def refuse_council_alerts(app: App) -> None:
    with app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_council BEFORE INSERT ON outbox_message "
                f"WHEN NEW.kind = 'council' BEGIN SELECT RAISE(ABORT, '{TOO_LONG}'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_council() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.kind = 'council' THEN RAISE EXCEPTION '{TOO_LONG}' "
            "USING ERRCODE = 'string_data_right_truncation'; END IF; RETURN NEW; END "
            "$$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_council BEFORE INSERT ON outbox_message "
            "FOR EACH ROW EXECUTE FUNCTION refuse_council()"
        )


def allow_council_alerts(app: App) -> None:
    with app.engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        conn.exec_driver_sql(
            "DROP TRIGGER IF EXISTS refuse_council" + ("" if sqlite else " ON outbox_message")
        )
        if not sqlite:
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_council()")


def outbox(app: App) -> list[OutboxMessage]:
    with app.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_failing_job_leaves_the_others_and_the_dispatch_running(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at(PRIMED))
    before = {m.key for m in outbox(app)}
    refuse_council_alerts(app)
    try:
        results, report = run_due(app, now=at(DAY))
    finally:
        allow_council_alerts(app)

    by_job = {r.job: r for r in results}
    assert by_job["council_alerts"].slot is None and TOO_LONG in by_job["council_alerts"].error
    assert by_job["reminders"].enqueued > 0 and by_job["overdue"].enqueued > 0
    assert by_job["reminders"].error is None and by_job["overdue"].error is None
    new = [m for m in outbox(app) if m.key not in before]
    assert {m.kind for m in new} >= {"reminder", "overdue"}
    assert "council" not in {m.kind for m in new}
    assert {m.status for m in new} == {OutboxStatus.SENT}  # the dispatch ran
    assert sorted(report.sent) == sorted(m.id for m in new)
    assert {p.name for p in settings.mail_dir.glob("*.eml")} >= {m.file_name for m in new}

    with app.sessions() as session:
        assert session.get(JobRun, "council_alerts").last_slot == "2023-10-09"  # not covered
        assert session.get(JobRun, "reminders").last_slot == "2023-10-12"
        (failure,) = session.scalars(select(JobFailure))
    assert (failure.job, failure.slot, failure.at) == ("council_alerts", "2023-10-12", at(DAY))
    assert failure.error.startswith("council_alerts mislukt voor 2023-10-12: databasefout: ")
    assert TOO_LONG in failure.error and "\n" not in failure.error

    # Once the cause is gone, the next run catches the job up, once.
    again, _ = run_due(app, now=at("2023-10-12T09:00"))
    caught_up = {r.job: r for r in again}["council_alerts"]
    assert (caught_up.slot, caught_up.error) == (at(DAY).date(), None)
    council = [m for m in outbox(app) if m.kind == "council"]
    assert len(council) == caught_up.enqueued > 0
    assert {m.status for m in council} == {OutboxStatus.SENT}


def test_veiligheid_run_exits_with_the_job_code_and_one_line_per_failed_job(
    app, settings, tmp_path
):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at(PRIMED))
    refuse_council_alerts(app)
    try:
        done = subprocess.run(
            [VEILIGHEID, "run", "--now", DAY],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=120,
        )
    finally:
        allow_council_alerts(app)

    assert done.returncode == JOB_FAILED == 3, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    failed = [line for line in done.stderr.splitlines() if "mislukt" in line]
    assert len(failed) == 1 and failed[0].startswith("council_alerts mislukt voor 2023-10-12")
    assert "reminders: " in done.stdout and "verstuurd" in done.stdout
    assert any(m.kind == "reminder" and m.status == OutboxStatus.SENT for m in outbox(app))


def test_the_embedded_scheduler_logs_a_failed_job_and_still_dispatches(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at(PRIMED))
    runner = direct_runner(app)
    runner("reminders", at(DAY))  # queued and sent
    refuse_council_alerts(app)
    try:
        line = runner("council_alerts", at(DAY))
    finally:
        allow_council_alerts(app)

    assert line.startswith("council_alerts: 0 bericht(en) klaargezet")
    assert "council_alerts mislukt voor 2023-10-12: databasefout: " in line
    with app.sessions() as session:
        assert session.scalars(select(JobFailure.job)).all() == ["council_alerts"]
    assert {m.status for m in outbox(app)} == {OutboxStatus.SENT}
