"""Exports (`veiligheid export taken|termijnagenda -o FILE.csv|.xlsx`): the rows of a listing
as column specs plus plain values, written by `reports/tables.py`.

Each column is a field of the listing's `--json` (its `key`), so the export holds the same
rows as `veiligheid tasks --json` or `veiligheid termijnagenda --json`, with Dutch words
where the JSON has codes: a status as its label, signals as their Dutch names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from veiligheid_flow.app.queries import council_agenda
from veiligheid_flow.app.queries_tasks import TaskQuery, tasks
from veiligheid_flow.app.views import FLAGS, STATUS_LABELS, TaskStatus
from veiligheid_flow.authority import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.reports.tables import Column, table_format, write_table

__all__ = ["Column", "Export", "council_export", "table_format", "tasks_export", "write"]


@dataclass(frozen=True)
class Export:
    title: str  # the sheet's name
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]


TASK_COLUMNS = (
    Column("rank", "volgorde", "number", 9, 0),
    Column("id", "id", "number", 8, 0),
    Column("title", "taak", "text", 50),
    Column("theme", "thema", "text", 22),
    Column("status", "status", "text", 15),
    Column("paused", "gepauzeerd", "bool", 12),
    Column("tier", "klasse", "number", 8, 0),
    Column("tier_label", "klasse (omschrijving)", "text", 28),
    Column("statutory", "wettelijk", "bool", 11),
    Column("legal_basis", "wettelijke grondslag", "text", 30),
    Column("due_date", "deadline", "date", 12),
    Column("planned_due", "geplande datum", "date", 14),
    Column("effort_hours", "uren", "number", 8),
    Column("owner", "eigenaar", "text", 28),
    Column("backup", "achtervang", "text", 28),
    Column("responsible", "verantwoordelijk", "text", 28),
    Column("council_item", "termijnagenda", "text", 24),
    Column("flags", "signalen", "text", 30),
    Column("reason", "waarom deze plek", "text", 50),
    Column("note", "toelichting", "text", 40),
)

COUNCIL_COLUMNS = (
    Column("municipality", "gemeente", "text", 14),
    Column("code", "code", "text", 28),
    Column("subject", "onderwerp", "text", 50),
    Column("holder", "portefeuillehouder", "text", 32),
    Column("committee", "commissie", "text", 18),
    Column("committee_date", "commissiedatum", "date", 15),
    Column("submission_deadline", "aanleverdatum", "date", 15),
    Column("days_left", "dagen tot aanleveren", "number", 12, 0),
    Column("at_risk", "in gevaar", "bool", 10),
)


def _task_value(key: str, value: Any) -> Any:
    if key == "status":
        return STATUS_LABELS[TaskStatus(value)]
    if key == "flags":
        return ", ".join(FLAGS.get(f, f) for f in value) or None
    return value


def tasks_export(
    app: App, *, now: datetime, filters: TaskQuery | None = None, actor: Actor | None = None
) -> Export:
    """The tasks of `veiligheid tasks` with the same filters, in the same order."""
    found = tasks(app, now=now, filters=filters or TaskQuery(), actor=actor)
    rows = tuple(tuple(_task_value(c.key, getattr(t, c.key)) for c in TASK_COLUMNS) for t in found)
    return Export("Taken", TASK_COLUMNS, rows)


def council_export(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> Export:
    """The termijnagenda of `veiligheid termijnagenda`, in the same order."""
    found = council_agenda(app, now=now, municipality=municipality, actor=actor)
    rows = tuple(tuple(getattr(i, c.key) for c in COUNCIL_COLUMNS) for i in found)
    return Export("Termijnagenda", COUNCIL_COLUMNS, rows)


def write(export: Export, path: Path) -> int:
    """Write the export as CSV or XLSX (by the suffix); the number of rows."""
    return write_table(path, export.title, export.columns, export.rows)
