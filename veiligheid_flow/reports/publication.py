"""The published programme as a static site (index.html, a page per theme, site.css: no
scripts, nothing from elsewhere) and the quarterly report for the committee (HTML and PDF).
Takes what app/publication.py returns."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from veiligheid_flow.reports.html import render
from veiligheid_flow.reports.pdf import pdf_from_html

STYLESHEET = "site.css"


def site_files(publication: Any) -> dict[str, str]:
    """File name → text of every file of the site."""
    css = files("veiligheid_flow").joinpath("templates/reports", STYLESHEET).read_text("utf-8")
    site = {
        "index.html": render(
            "site_index.html", p=publication, title=publication.programme_name, current="index"
        ),
        STYLESHEET: css,
    }
    for theme in publication.themes:
        site[theme.page] = render(
            "site_theme.html", p=publication, th=theme, title=theme.name, current=theme.code
        )
    return site


def quarter_html(report: Any) -> str:
    return render(
        "quarter.html",
        r=report,
        title=f"Raadsinformatiebrief voortgang veiligheid, {report.label}",
        municipality=report.municipality,
    )


def quarter_pdf(report: Any) -> bytes:
    return pdf_from_html(quarter_html(report))
