"""Capaciteit, for coordinators: the capacity forecast as a chart (matplotlib, drawn on the
server as SVG) and as a table with the same numbers.

The chart is its own response (/capaciteit/grafiek.svg, shown with <img>): matplotlib's SVG
carries a <style> element and style attributes, which the CSP (style-src 'self') blocks when
the SVG sits inline in the page (measured in Chromium: every fill turned black); as an image
it is drawn as it is. Nothing is cached: a chart of the example's 13 people takes 0.4–0.7 s
of CPU on a busy 2-core machine (measured; a layout engine would double that)."""

from __future__ import annotations

import io
import threading
from typing import Annotated

import matplotlib
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from veiligheid_flow.app import queries_admin
from veiligheid_flow.app.queries_admin import CapacityView, PersonLoad
from veiligheid_flow.app.views import Actor
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web

matplotlib.use("Agg")  # no GUI; the charts use Figure directly (pyplot is not thread-safe)

router = APIRouter()
WITHIN, OVER, LINE = "#154273", "#8a1020", "#1a1a1a"
_draw = threading.Lock()  # rcParams are process-wide; one chart at a time


def _per(value: str | None) -> str:
    return value if value in queries_admin.HORIZON else "week"


def _view(request: Request, actor: Actor, per: str | None) -> CapacityView:
    w = web(request)
    return queries_admin.capacity(w.app, now=w.now(), actor=actor, per=_per(per))


@router.get("/capaciteit")
def capacity(
    request: Request, actor: Annotated[Actor, Depends(signed_in)], per: str | None = None
) -> Response:
    view = _view(request, actor, per)
    return page(
        request,
        "capacity.html",
        actor,
        view=view,
        alt=alt_text(view),
        size=figure_size(len(view.people), 3),
        horizon=queries_admin.HORIZON,
        active="capaciteit",
        title="Capaciteit",
    )


@router.get("/capaciteit/grafiek.svg")
def chart(
    request: Request,
    actor: Annotated[Actor, Depends(signed_in)],
    per: str | None = None,
    smal: str | None = None,
) -> Response:
    svg = chart_svg(_view(request, actor, per), columns=1 if smal else 3)
    return Response(svg, media_type="image/svg+xml")


def alt_text(view: CapacityView) -> str:
    """What the chart shows, in one or two sentences (the table has every number)."""
    unit = "week" if view.per == "week" else "maand"
    over = [p.name for p in view.people if p.over]
    first = view.periods[0].long if view.periods else ""
    text = (
        f"Staafdiagram per medewerker: geplande uren per {unit} tegen de beschikbare uren "
        f"(lijn), {len(view.periods)} perioden vanaf {first}. "
    )
    if over:
        text += f"Meer gepland dan beschikbaar bij: {', '.join(over)}. "
    else:
        text += "Niemand heeft meer gepland dan beschikbaar. "
    return text + "De cijfers staan in de tabel onder de grafiek."


def figure_size(people: int, columns: int) -> tuple[float, float]:
    """The chart's size in inches: a panel of 3.4 × 2.2 per person, and room for the legend."""
    cols = max(1, min(columns, people or 1))
    rows = max(1, -(-people // cols))
    return 3.4 * cols, 2.2 * rows + (0.9 if cols > 1 else 1.25)  # one column: legend of 3 lines


def chart_svg(view: CapacityView, *, columns: int = 3) -> bytes:
    """Small multiples: one panel per person, a bar per period (hatched and red where more is
    planned than available, not colour alone), the available hours as a line over each bar."""
    people = view.people
    cols = max(1, min(columns, len(people) or 1))
    rows = max(1, -(-len(people) // cols))
    with _draw, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "capaciteit"}):
        width, height = figure_size(len(people), cols)
        fig = Figure(figsize=(width, height))  # fixed margins: a layout engine doubles the time
        fig.subplots_adjust(
            left=0.55 / width,
            right=1 - 0.15 / width,
            top=1 - (0.75 if cols > 1 else 1.1) / height,
            bottom=0.55 / height,
            wspace=0.35,
            hspace=0.75,
        )
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        labels = [p.label for p in view.periods]
        for ax, person in zip(axes, people, strict=False):
            _panel(ax, person, labels)
        for ax in axes[len(people) :]:
            ax.set_axis_off()
        if not people:
            axes[0].text(0.5, 0.5, "Geen medewerkers", ha="center", va="center")
        fig.legend(
            handles=[
                Patch(facecolor=WITHIN, label="gepland"),
                Patch(
                    facecolor=OVER,
                    hatch="///",
                    edgecolor="white",
                    label="gepland, meer dan beschikbaar",
                ),
                Line2D([], [], color=LINE, linewidth=2, label="beschikbaar"),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - 0.05 / height),
            ncols=3 if cols > 1 else 1,
            frameon=False,
            fontsize=9,
        )
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _panel(ax: Axes, person: PersonLoad, labels: list[str]) -> None:
    top = max(max((load.available for load in person.loads), default=0.0) * 2.0, 8.0)
    for x, load in enumerate(person.loads):
        p, a, over = load.planned, load.available, load.over
        ax.bar(
            x,
            min(p, top),
            width=0.7,
            color=OVER if over else WITHIN,
            hatch="///" if over else None,
            edgecolor="white" if over else WITHIN,
            linewidth=0,
        )
        if p > top:  # clipped: the real number above the bar
            ax.text(x, top * 1.01, f"{p:g}", ha="center", va="bottom", fontsize=6.5, color=LINE)
        ax.hlines(a, x - 0.42, x + 0.42, colors=LINE, linewidth=2)
    ax.set_ylim(0, top * 1.12)
    ax.set_xticks(list(range(len(labels))), labels, rotation=45, ha="right", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(f"{person.name} ({person.hours_per_week:g} u/wk)", fontsize=9, loc="left")
    ax.set_ylabel("uren", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
