"""Migrations: the schema they build is the schema the models describe, both ways, both DBs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from tests.conftest import PG_SERVER
from veiligheid_flow.db import Base, alembic_config, make_engine, upgrade
from veiligheid_flow.models import import_all


@pytest.fixture
def empty_engine(backend: str, tmp_path) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"vf_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{PG_SERVER}?options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def schema_drift(engine: Engine) -> list[object]:
    import_all()
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_upgrade_matches_the_models_and_downgrade_round_trips(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert schema_drift(empty_engine) == []

    command.downgrade(alembic_config(empty_engine), "0002")
    upgrade(empty_engine)

    assert schema_drift(empty_engine) == []
