"""`veiligheid backup` / `restore` of the embedded SQLite database (SQLite's online backup API):
a consistent copy while another thread writes, a restore that gives back every row as it was,
and refusals (no --yes, not a veiligheid database, PostgreSQL) that change nothing."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_programme_load import snapshot
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.audit import service as audit
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import JobRun
from veiligheid_flow.ops import exitcodes
from veiligheid_flow.tasks.models import TaskStatus

DAY = "2023-10-02T09:00"


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only (these commands are for the embedded database), whatever `--db` says."""
    path = tmp_path / "veiligheid.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def ops(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_restore_gives_back_every_task_audit_row_and_message_as_at_backup(app, tmp_path):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at("2023-10-02T08:05"))
    run_due(app, now=at("2023-10-06T08:05"))
    before = snapshot(app)
    assert len(before["task"]) > 200 and before["audit_entry"] and before["outbox_message"]
    copy = tmp_path / "kopie" / "veiligheid-2023-10-06.db"

    made = ops("backup", copy)
    assert made.exit_code == 0, made.output
    assert "versie" in made.stdout and copy.is_file()
    assert ops("backup", copy).exit_code == exitcodes.INPUT_ERROR  # exists: needs --yes

    # Things change after the backup: a task is done, another day's mail goes out.
    commands.change_status(
        app, 1, TaskStatus.DONE, by="a.devries@example.nl", now=at("2023-10-09T09:00")
    )
    run_due(app, now=at("2023-10-10T08:05"))
    changed = snapshot(app)
    assert changed != before
    assert len(changed["outbox_message"]) > len(before["outbox_message"])

    refused = ops("restore", copy)
    assert refused.exit_code == exitcodes.INPUT_ERROR and "--yes" in refused.stderr
    assert snapshot(app) == changed  # nothing changed

    restored = ops("restore", copy, "--yes")
    assert restored.exit_code == 0, restored.output
    assert snapshot(app) == before  # through the app's own (pooled) connections


def test_a_backup_taken_while_another_thread_writes_is_consistent(app, tmp_path):
    """The writer adds an audit row and moves a counter row in each transaction; the copy must
    hold both or neither of every transaction, and be taken in the middle of the writing."""
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    stop, written = threading.Event(), []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with app.unit_of_work() as session:
                audit.record(
                    session=session,
                    at=at(DAY),
                    actor="schrijver",
                    action="test.write",
                    object_type="test",
                    object_id=n,
                )
                row = session.get(JobRun, "schrijver")
                if row is None:
                    session.add(JobRun(job="schrijver", last_slot=str(n), ran_at=at(DAY)))
                else:
                    row.last_slot = str(n)
            written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            stop.wait(0.01)
        first = len(written)
        result = ops("backup", tmp_path / "tijdens.db")
        copied_at = len(written)
        while len(written) < copied_at + 50:
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result.exit_code == 0, result.output

    conn = sqlite3.connect(tmp_path / "tijdens.db")
    try:
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        (rows,) = conn.execute(
            "SELECT count(*) FROM audit_entry WHERE action = 'test.write'"
        ).fetchone()
        (counter,) = conn.execute(
            "SELECT last_slot FROM job_run WHERE job = 'schrijver'"
        ).fetchone()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    finally:
        conn.close()
    assert check == "ok" and mode == "delete"  # one self-contained file
    assert rows == int(counter)  # every transaction whole
    assert first <= rows <= copied_at  # taken while the writer was writing
    with app.sessions() as session:
        total = session.scalar(select(func.count()).where(AuditEntry.action == "test.write"))
    assert total > copied_at >= rows


def test_restore_refuses_a_file_that_is_not_a_veiligheid_database(app, tmp_path):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    before = snapshot(app)
    text = tmp_path / "notities.db"
    text.write_text("geen database\n" * 100)
    other = tmp_path / "ander.db"
    sqlite3.connect(other).executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    newer = tmp_path / "nieuwer.db"
    assert ops("backup", newer).exit_code == 0
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")

    for path, reason in (
        (text, "is geen SQLite-database"),
        (other, "is geen veiligheid-database"),
        (newer, "migratieversie 0099"),
        (tmp_path / "weg.db", "bestaat niet"),
    ):
        result = ops("restore", path, "--yes")
        assert result.exit_code == exitcodes.INPUT_ERROR, path
        assert reason in result.stderr and "Traceback" not in result.output
    assert snapshot(app) == before


def test_postgresql_is_refused_with_the_pg_dump_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VEILIGHEID_DATABASE_URL", "postgresql+psycopg://app:geheim@db:5432/vf")
    for args in (("backup", tmp_path / "x.db"), ("restore", tmp_path / "x.db", "--yes")):
        result = ops(*args)
        assert result.exit_code == exitcodes.INPUT_ERROR
        line = " ".join(result.stderr.split())
        assert "pg_dump --format=custom" in line and "pg_restore --clean" in line
        assert "postgresql://app:***@db:5432/vf" in line and "geheim" not in result.output
    assert not (tmp_path / "x.db").exists()
