"""SQLite gets planner statistics after a load (db.refresh_statistics): without them a
board query by theme walks the status index over every task."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App


def test_a_load_leaves_statistics_for_the_planner(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    with app.engine.connect() as conn:
        if app.engine.dialect.name != "sqlite":
            return  # PostgreSQL's autovacuum analyzes by itself
        tables = {r[0] for r in conn.execute(text("SELECT tbl FROM sqlite_stat1"))}
    assert {"task", "theme", "person"} <= tables
