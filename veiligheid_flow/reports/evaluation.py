"""The evaluation report as HTML (Jinja2, templates/reports/evaluation.html) with its charts,
and as PDF from the same HTML. Takes the `Evaluation` that app/evaluation.py returns (this
package sits below the application layer, so it is typed by what it reads, not imported)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from veiligheid_flow.reports.charts import delay_chart, load_chart, progress_chart
from veiligheid_flow.reports.html import long_date, render
from veiligheid_flow.reports.pdf import pdf_from_html


def evaluation_charts(evaluation: Any) -> dict[str, str]:
    """The three charts as inline SVG."""
    progress = [
        (t.name, t.progress.on_time, t.progress.late, t.progress.overdue, t.progress.waiting)
        for t in evaluation.themes
    ]
    return {
        "progress": progress_chart(progress),
        "delay": delay_chart(evaluation.total.progress.distribution()),
        "load": load_chart(evaluation.quarter_totals()),
    }


def evaluation_html(evaluation: Any) -> str:
    by_person: dict[str, list[Any]] = defaultdict(list)
    for row in evaluation.load:
        by_person[row.person].append(row)
    return render(
        "evaluation.html",
        e=evaluation,
        title=f"Evaluatie {evaluation.programme_name}, stand {long_date(evaluation.today)}",
        municipality=evaluation.municipality,
        charts=evaluation_charts(evaluation),
        theme_names={t.code: t.name for t in evaluation.themes},
        load_by_person=[(p, rows) for p, rows in by_person.items() if any(r.load for r in rows)],
    )


def evaluation_pdf(evaluation: Any) -> bytes:
    return pdf_from_html(evaluation_html(evaluation))
