"""Charts as inline SVG (matplotlib, Agg): progress per theme, the delay distribution, the
load per quarter. Each SVG carries a <title> and <desc> (role="img") for screen readers, and
its text as text (not as paths), so the PDF can be searched and read aloud. No date and no
RDF metadata in the output; a fixed hash salt for the ids."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from html import escape

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Colour-blind safe (Okabe–Ito); every colour is named in a legend and in the description.
ON_TIME, LATE, OVERDUE, WAITING, CAPACITY = "#0072B2", "#E69F00", "#D55E00", "#BBBBBB", "#009E73"
STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # a "$" in a theme name is text, not a formula
    "svg.hashsalt": "veiligheid-flow",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(figure: Figure, chart_id: str, title: str, description: str) -> str:
    """The figure as an <svg> element with its title and description, for inline HTML."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate
    opening = re.match(r"<svg[^>]*>", text)
    assert opening is not None
    tag = opening.group(0)[:-1] + (
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">'
    )
    label = (
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    return tag + label + text[opening.end() :]


def progress_chart(rows: Sequence[tuple[str, int, int, int, int]]) -> str:
    """Rows (theme, on time, late, open and late, open): one stacked bar per theme, each part
    as a share of the theme's planned activities (the count after the name)."""
    labels = ("op tijd gereed", "te laat gereed", "open en te laat", "open")
    colours = (ON_TIME, LATE, OVERDUE, WAITING)
    shown = list(reversed(rows))  # barh draws bottom-up: the first theme on top
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.0, 0.36 * len(rows) + 1.3))
        names = [f"{name} ({sum(parts)})" for name, *parts in shown]
        left = [0.0] * len(shown)
        for index, (label, colour) in enumerate(zip(labels, colours, strict=True)):
            shares = [100 * parts[index] / max(sum(parts), 1) for _, *parts in shown]
            axes.barh(names, shares, left=left, color=colour, label=label, height=0.62)
            left = [a + b for a, b in zip(left, shares, strict=True)]
        axes.set_xlim(0, 100)
        axes.set_xlabel("% van de geplande activiteiten")
        axes.legend(
            ncols=4, loc="lower center", bbox_to_anchor=(0.4, 1.0), frameon=False, fontsize=8
        )
    description = "; ".join(
        f"{name}: {a} op tijd gereed, {b} te laat gereed, {c} open en te laat, {d} open"
        for name, a, b, c, d in rows
    )
    return _svg(figure, "grafiek-voortgang", "Voortgang per thema", description)


def delay_chart(buckets: Sequence[tuple[str, int, int]]) -> str:
    """Buckets (working days late, done late, open and late): side-by-side bars."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.0, 2.8))
        positions = range(len(buckets))
        done = [b[1] for b in buckets]
        still = [b[2] for b in buckets]
        axes.bar([p - 0.2 for p in positions], done, 0.4, color=LATE, label="te laat gereed")
        axes.bar([p + 0.2 for p in positions], still, 0.4, color=OVERDUE, label="open en te laat")
        for p, (d, s) in enumerate(zip(done, still, strict=True)):
            for x, value in ((p - 0.2, d), (p + 0.2, s)):
                if value:
                    axes.annotate(str(value), (x, value), ha="center", va="bottom", fontsize=8)
        axes.set_xticks(list(positions), [b[0] for b in buckets])
        axes.set_xlabel("werkdagen na de deadline")
        axes.set_ylabel("activiteiten")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
    description = "; ".join(
        f"{label} werkdagen: {d} te laat gereed, {s} open en te laat" for label, d, s in buckets
    )
    return _svg(figure, "grafiek-vertraging", "Hoe laat: verdeling in werkdagen", description)


def load_chart(quarters: Sequence[tuple[str, float, float]]) -> str:
    """Quarters (label, load, capacity) in hours: bars for the load, a line for capacity."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.0, 2.8))
        labels = [q[0] for q in quarters]
        axes.bar(labels, [q[1] for q in quarters], 0.6, color=ON_TIME, label="belasting (uren)")
        axes.plot(
            labels,
            [q[2] for q in quarters],
            color=CAPACITY,
            marker="o",
            label="capaciteit (uren)",
        )
        axes.set_ylabel("uren")
        axes.set_ylim(bottom=0)
        axes.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
    description = "; ".join(
        f"{label}: {load:.0f} uur belasting, {capacity:.0f} uur capaciteit"
        for label, load, capacity in quarters
    )
    return _svg(figure, "grafiek-belasting", "Belasting en capaciteit per kwartaal", description)
