"""The evaluation as files: the report as PDF or HTML (`veiligheid rapport evaluatie`), and its
figures per theme as a table for `veiligheid export evaluatie -o FILE.csv|.xlsx` (written by
`reports/tables.py`, like the other exports)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from veiligheid_flow.app.evaluation import Evaluation, ThemeEvaluation, evaluation
from veiligheid_flow.app.exports import Export
from veiligheid_flow.authority import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError
from veiligheid_flow.reports.evaluation import evaluation_html, evaluation_pdf
from veiligheid_flow.reports.tables import Column

COLUMNS = (
    Column("theme_code", "themacode", "text", 28),
    Column("theme", "thema", "text", 44),
    Column("planned", "gepland", "number", 10, 0),
    Column("due", "deadline verstreken", "number", 12, 0),
    Column("done", "gereed", "number", 10, 0),
    Column("on_time", "op tijd", "number", 10, 0),
    Column("late", "te laat gereed", "number", 12, 0),
    Column("overdue", "open en te laat", "number", 12, 0),
    Column("paused", "stilgelegd", "number", 11, 0),
    Column("cancelled", "vervallen", "number", 11, 0),
    Column("late_days", "werkdagen te laat (totaal)", "number", 14, 0),
    Column("cases", "wettelijke zaken", "number", 12, 0),
    Column("cases_met", "termijn gehaald", "number", 12, 0),
    Column("cases_missed", "termijn overschreden", "number", 12, 0),
    Column("cases_running", "termijn loopt", "number", 12, 0),
    Column("council", "raadsstukken", "number", 12, 0),
    Column("council_on_time", "raadsstuk op tijd", "number", 12, 0),
    Column("council_late", "raadsstuk te laat", "number", 12, 0),
    Column("council_missing", "raadsstuk niet aangeleverd", "number", 14, 0),
    Column("council_pending", "raadsstuk nog niet aan de orde", "number", 14, 0),
    Column("escalations", "escalaties", "number", 11, 0),
    Column("paused_tasks", "stilgelegd door crisis", "number", 12, 0),
    Column("budget_planned", "budget gepland", "number", 14, 2),
    Column("budget_realised", "budget gerealiseerd", "number", 14, 2),
)


def _row(theme: ThemeEvaluation) -> tuple[Any, ...]:
    p, cases, council = theme.progress, theme.cases, theme.council
    return (
        theme.code or None,
        theme.name,
        p.planned,
        p.due,
        p.done,
        p.on_time,
        p.late,
        p.overdue,
        p.paused,
        p.cancelled,
        sum(p.delays),
        cases.total,
        cases.met,
        cases.missed,
        cases.running,
        council.total,
        council.met,
        council.missed,
        council.failed,
        council.running,
        theme.escalations,
        theme.paused_tasks,
        theme.budget_planned,
        theme.budget_realised,
    )


def evaluation_table(
    result: Evaluation,
) -> tuple[tuple[Column, ...], tuple[tuple[Any, ...], ...]]:
    """One row per theme, then the whole programme (no theme code): the figures of the
    report's tables, as numbers."""
    rows = tuple(_row(t) for t in (*result.themes, result.total))
    return COLUMNS, rows


def evaluation_export(
    app: App, *, now: datetime, programme: str | None = None, actor: Actor | None = None
) -> Export:
    """`veiligheid export evaluatie`: the evaluation's table as an Export."""
    columns, rows = evaluation_table(evaluation(app, now=now, programme=programme, actor=actor))
    return Export("Evaluatie", columns, rows)


REPORT_FORMATS = (".pdf", ".html")


def write_evaluation(
    app: App,
    path: Path,
    *,
    now: datetime,
    programme: str | None = None,
    actor: Actor | None = None,
) -> Evaluation:
    """The evaluation report as PDF or HTML, by the suffix of `path`."""
    suffix = report_suffix(path, REPORT_FORMATS)
    result = evaluation(app, now=now, programme=programme, actor=actor)
    if suffix == ".pdf":
        write_file(path, evaluation_pdf(result))
    else:
        write_file(path, evaluation_html(result).encode("utf-8"))
    return result


def report_suffix(path: Path, allowed: tuple[str, ...]) -> str:
    """The suffix of `path` if it is one of `allowed`, or one Dutch line; the folder must
    exist."""
    suffix = path.suffix.lower()
    if suffix not in allowed:
        given = f"'{suffix}'" if suffix else "geen extensie"
        choices = " of ".join(allowed)
        raise DomainError(f"{path}: onbekend bestandstype ({given}); kies een naam op {choices}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DomainError(f"map {folder} bestaat niet: maak haar eerst of kies een andere")
    return suffix


def write_file(path: Path, data: bytes) -> None:
    """Write next to the place and rename: a failure never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
