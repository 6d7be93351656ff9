"""Backup and restore of the embedded SQLite database with SQLite's online backup API.

The copy is taken in one backup step: one read transaction on the source, so it is a
consistent snapshot even while the scheduler writes (WAL: writers are not blocked). Restore
copies the pages back under the database's write lock and then migrates to the newest version.
PostgreSQL is backed up with its own tools (README "Beheer"); these commands refuse it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url

from veiligheid_flow.db import MIGRATIONS, make_engine, upgrade
from veiligheid_flow.errors import DomainError
from veiligheid_flow.settings import Settings

PG_DUMP = "pg_dump --format=custom --file veiligheid.dump '{url}'"
PG_RESTORE = (
    "pg_restore --clean --if-exists --no-owner --single-transaction --dbname '{url}' "
    "veiligheid.dump"
)
# Tables every veiligheid database has had since its first migration.
CORE_TABLES = {"programme", "task", "audit_entry", "outbox_message", "job_run"}


@dataclass
class BackupResult:
    path: Path
    revision: str
    size: int


@dataclass
class RestoreResult:
    path: Path
    revision: str  # the version of the copy
    head: str  # the version after the migrations that followed


def _database_file(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        # libpq takes the URL without the driver; the password comes from PGPASSWORD/.pgpass.
        plain = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
        raise DomainError(
            "backup en restore zijn er voor de ingebouwde SQLite-database; gebruik voor "
            f"PostgreSQL pg_dump en pg_restore (README, Beheer): {PG_DUMP.format(url=plain)} "
            f"en {PG_RESTORE.format(url=plain)}"
        )
    if not url.database or url.database == ":memory:":
        raise DomainError(f"geen databasebestand in VEILIGHEID_DATABASE_URL ({url})")
    return Path(url.database)


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def database_revision(path: Path) -> str:
    """The migration version of a veiligheid database file, or a clear error saying why the
    file is not one (not SQLite, no veiligheid tables, a version this code does not know)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            rows = (
                conn.execute("SELECT version_num FROM alembic_version").fetchall()
                if "alembic_version" in tables
                else []
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DomainError(f"{path} is geen SQLite-database ({exc})") from None
    if not rows or not tables.issuperset(CORE_TABLES):
        raise DomainError(
            f"{path} is geen veiligheid-database (tabellen of migratieversie ontbreken)"
        )
    revision = rows[0][0]
    try:
        known = _scripts().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise DomainError(
            f"{path} heeft migratieversie {revision}, die deze versie van veiligheid-flow "
            "niet kent (een kopie van nieuwere software?)"
        )
    return revision


def backup(settings: Settings, target: Path, *, overwrite: bool = False) -> BackupResult:
    source = _database_file(settings)
    if not source.is_file():
        raise DomainError(f"database {source} bestaat niet")
    if target.exists() and not overwrite:
        raise DomainError(f"{target} bestaat al; gebruik --yes om het te overschrijven")
    if target.exists() and target.resolve() == source.resolve():
        raise DomainError(f"{target} is de database zelf")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise DomainError(f"de kopie van {source} is beschadigd ({check}); niets geschreven")
    revision = database_revision(partial)
    os.replace(partial, target)  # all or nothing: a half-written file never has the name
    return BackupResult(target, revision, target.stat().st_size)


def restore(settings: Settings, copy: Path, *, overwrite: bool = False) -> RestoreResult:
    database = _database_file(settings)
    if not copy.is_file():
        raise DomainError(f"{copy} bestaat niet")
    if database.exists() and copy.resolve() == database.resolve():
        raise DomainError(f"{copy} is de database zelf")
    revision = database_revision(copy)
    if database.exists() and not overwrite:
        raise DomainError(
            f"{database} bestaat al en wordt dan overschreven; herhaal met --yes "
            "(maak eerst een backup van de huidige stand)"
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(database, timeout=30)
        try:
            src.backup(dst)  # under the database's write lock; readers see all or nothing
        finally:
            dst.close()
    finally:
        src.close()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return RestoreResult(database, revision, database_revision(database))
