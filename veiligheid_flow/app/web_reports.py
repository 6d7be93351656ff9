"""What the web's Rapporten pages need beyond the CLI's exports: who may see reports (a
coordinator or a portfolio holder, limited to those municipalities), the programmes they may
choose, one chart of the evaluation as SVG text and the report as bytes (entry points do not
import `veiligheid_flow.reports`). Frozen values only; nothing here writes to the database."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from veiligheid_flow.app.evaluation import evaluation
from veiligheid_flow.app.exports import Export, write
from veiligheid_flow.app.exports_evaluation import (
    REPORT_FORMATS,
    evaluation_table,
    write_evaluation,
)
from veiligheid_flow.app.queries_admin import coordinates
from veiligheid_flow.app.queries_board import holder_municipalities
from veiligheid_flow.app.reading import read_only
from veiligheid_flow.authority import Actor, Role
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import NotFound, Refused
from veiligheid_flow.programme.models import Programme
from veiligheid_flow.reports.charts import delay_chart, load_chart, progress_chart

CHARTS = {
    "voortgang": "Voortgang per thema",
    "vertraging": "Hoe laat: verdeling in werkdagen",
    "belasting": "Belasting en capaciteit per kwartaal",
}
# matplotlib's pyplot and rcParams are process-wide: one chart (or report) at a time.
_draw = threading.Lock()


def reports_allowed(actor: Actor) -> bool:
    return coordinates(actor) or bool(holder_municipalities(actor))


def as_reporter(actor: Actor) -> Actor:
    """The reader limited to the municipalities where they coordinate or hold a portfolio;
    refused when there are none."""
    codes = set(holder_municipalities(actor)) | {
        c for c in actor.municipalities if actor.has(Role.COORDINATOR, c)
    }
    if not codes:
        raise Refused(
            f"Alleen een {Role.COORDINATOR.value} of {Role.HOLDER.value} mag rapporten over "
            f"het programma zien; {actor.name} is dat niet."
        )
    return Actor(
        email=actor.email,
        name=actor.name,
        roles={c: r for c, r in actor.roles.items() if c in codes},
    )


@dataclass(frozen=True)
class ProgrammeChoice:
    code: str
    name: str
    municipality: str
    start: date
    end: date


def programmes(app: App, *, actor: Actor) -> tuple[ProgrammeChoice, ...]:
    """The programmes of the reader's municipalities, oldest first."""
    with read_only(app) as session:
        rows = session.scalars(
            select(Programme)
            .where(Programme.municipality_code.in_(sorted(actor.municipalities)))
            .order_by(Programme.start, Programme.code)
        )
        return tuple(ProgrammeChoice(p.code, p.name, p.municipality, p.start, p.end) for p in rows)


def evaluation_chart(
    app: App, name: str, *, now: datetime, programme: str | None, actor: Actor
) -> str:
    """One chart of the evaluation (a key of CHARTS) as a standalone SVG document."""
    if name not in CHARTS:
        raise NotFound(f"grafiek '{name}' bestaat niet (wel: {', '.join(CHARTS)})")
    result = evaluation(app, now=now, programme=programme, actor=as_reporter(actor))
    with _draw:
        if name == "voortgang":
            svg = progress_chart(
                [
                    (
                        t.name,
                        t.progress.on_time,
                        t.progress.late,
                        t.progress.overdue,
                        t.progress.waiting,
                    )
                    for t in result.themes
                ]
            )
        elif name == "vertraging":
            svg = delay_chart(result.total.progress.distribution())
        else:
            svg = load_chart(result.quarter_totals())
    return svg  # matplotlib's <svg> carries its xmlns: a document of its own


def evaluation_report(
    app: App, suffix: str, *, now: datetime, programme: str | None, actor: Actor
) -> tuple[bytes, str]:
    """The evaluation report as PDF or HTML (`suffix` '.pdf' or '.html'): its bytes and the
    programme's code (for the file name). Written to a temporary folder that is removed."""
    if suffix not in REPORT_FORMATS:
        raise NotFound(f"rapport '{suffix}' bestaat niet")
    reporter = as_reporter(actor)
    with tempfile.TemporaryDirectory(prefix="evaluatie-") as folder:
        path = Path(folder) / f"evaluatie{suffix}"
        with _draw:
            result = write_evaluation(app, path, now=now, programme=programme, actor=reporter)
        return path.read_bytes(), result.programme


def table_bytes(export: Export, suffix: str) -> bytes:
    """An export as the bytes of a .csv or .xlsx file (written to a temporary folder that is
    removed)."""
    if suffix not in (".csv", ".xlsx"):
        raise NotFound(f"bestandstype '{suffix}' bestaat niet")
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = Path(folder) / f"export{suffix}"
        write(export, path)
        return path.read_bytes()


def evaluation_table_bytes(
    app: App, suffix: str, *, now: datetime, programme: str | None, actor: Actor
) -> tuple[bytes, str]:
    """The evaluation's figures per theme (`veiligheid export evaluatie`) as .csv or .xlsx
    bytes, and the programme's code (for the file name)."""
    result = evaluation(app, now=now, programme=programme, actor=as_reporter(actor))
    columns, rows = evaluation_table(result)
    return table_bytes(Export("Evaluatie", columns, rows), suffix), result.programme
