"""Test fixtures: every database test runs on a real SQLite file and on real PostgreSQL.

`--db sqlite` or `--db postgresql` picks one; the default runs both. PostgreSQL is the server on
127.0.0.1:5432 (database `test`, trust auth); each run gets its own schema and every test
starts from empty tables.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.db import Base, make_engine, upgrade
from veiligheid_flow.models import import_all
from veiligheid_flow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "programma-huizen-2023-2024.yaml"
PG_SERVER = os.environ.get(
    "VEILIGHEID_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# Tiers (`pytest -m unit` runs in seconds): unit needs no database or process; integration runs
# on a real database (the `backend` fixture, both backends); system starts processes or servers.
SYSTEM_MODULES = {
    "test_server_topology",
    "test_concurrent_runners",
    "test_dispatch_crash",
    "test_serve",
    "test_flows",
    "test_docker_compose",
    "test_hostile_input",
    "test_smtp_tls_auth",
    "test_mail_in_browser",
}
INTEGRATION_MODULES = {"test_loader_fuzz", "test_ops_backup"}  # a real SQLite file of their own


def pytest_configure(config: pytest.Config) -> None:
    for tier, meaning in (
        ("unit", "pure: no database, no process, no server"),
        ("integration", "a real SQLite file and PostgreSQL"),
        ("system", "subprocesses, servers, Prefect, a browser"),
    ):
        config.addinivalue_line("markers", f"{tier}: {meaning}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module in SYSTEM_MODULES or "web" in Path(str(item.fspath)).parent.parts[-1:]:
            item.add_marker(pytest.mark.system)
        elif module in INTEGRATION_MODULES or "backend" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", default="both", choices=("both", "sqlite", "postgresql"),
        help="database backend(s) for database tests",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    schema = f"vf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "veiligheid.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    import_all()
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for this test; also exported to the environment for CLI runs."""
    values = {
        "DATABASE_URL": database_url,
        "MAIL_DIR": str(tmp_path / "mail"),
        "RULES": str(ROOT / "rules"),
        "PROGRAMME": str(EXAMPLE),
    }
    for key, value in values.items():
        monkeypatch.setenv(f"VEILIGHEID_{key}", value)
    for key in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv(f"VEILIGHEID_{key}", raising=False)
    return Settings()


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    application = bootstrap(settings)
    yield application
    application.close()


def at(value: str) -> datetime:
    """A test clock reading: naive ISO means Europe/Amsterdam."""
    return parse_now(value)


def ics_task_ids(ics: str | None) -> set[int]:
    """The task ids of a deadline attachment: each DESCRIPTION ends "…, taak N" (unfolded)."""
    return {int(n) for n in re.findall(r", taak (\d+)", (ics or "").replace("\r\n ", ""))}
