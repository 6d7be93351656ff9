"""The reports of the CLI: `rapport evaluatie` and `rapport kwartaal` (PDF or HTML) for the
council and the committee, `publiceer` (the programme as a static site for the website) and
`export evaluatie` (the evaluation's figures per theme as CSV or XLSX, in the `export` group of
cli/data.py, which lets other exports register themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veiligheid_flow.app import exports
from veiligheid_flow.app.exports_evaluation import evaluation_export, write_evaluation
from veiligheid_flow.app.publication import publish, write_quarter_report
from veiligheid_flow.entrypoints.cli.support import (
    NowOption,
    ReaderOption,
    app_context,
    console,
    friendly_errors,
    now_from,
    reader,
)

report_app = typer.Typer(
    no_args_is_help=True, help="Rapporten voor de raad en de commissie (PDF of HTML)."
)
OutputOption = Annotated[
    Path,
    typer.Option("--output", "-o", help="Bestand: .pdf of .html (het type volgt de naam)."),
]
ProgrammeOption = Annotated[
    str | None,
    typer.Option(
        "--programme", help="Programmacode (nodig als er meer dan één programma geladen is)."
    ),
]


@report_app.command("evaluatie")
@friendly_errors
def evaluation(
    output: OutputOption,
    programme: ProgrammeOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Evaluatie van het programma als PDF of HTML.

    Gepland en gedaan, op tijd en te laat, wettelijke termijnen, termijnagenda, escalaties,
    crises, belasting en budget: uit het logboek, dus ook voor een moment in het verleden
    (--now)."""
    moment = now_from(now)
    with app_context() as app:
        result = write_evaluation(
            app, output, now=moment, programme=programme, actor=reader(app, by)
        )
    p = result.total.progress
    console.print(
        f"[green]Evaluatie geschreven:[/] {output} ({result.programme}, stand "
        f"{result.now:%d-%m-%Y %H:%M}): {p.planned} activiteiten gepland, {p.done} gereed "
        f"({p.on_time} op tijd, {p.late} te laat), {p.overdue} open en te laat.",
        highlight=False,
    )


@report_app.command("kwartaal")
@friendly_errors
def quarter(
    output: OutputOption,
    kwartaal: Annotated[str, typer.Option("--kwartaal", help="Kwartaal, bv. 2024-Q3.")],
    programme: ProgrammeOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Raadsinformatiebrief over de voortgang in een kwartaal (PDF of HTML).

    Stand per thema, wat te laat is en waarom, de termijnagenda en het budget; zonder namen
    van medewerkers."""
    moment = now_from(now)
    with app_context() as app:
        report = write_quarter_report(
            app, output, now=moment, quarter=kwartaal, programme=programme, actor=reader(app, by)
        )
    console.print(
        f"[green]Kwartaalrapportage geschreven:[/] {output} ({report.label}): "
        f"{report.total.planned} activiteiten, {report.total.done} gereed, "
        f"{len(report.late)} te laat.",
        highlight=False,
    )


def publish_site(
    out: Annotated[Path, typer.Option("--out", help="Map voor de website (wordt aangemaakt).")],
    programme: ProgrammeOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Schrijf het programma als statische website voor de gemeentesite.

    Thema's, portefeuillehouders, activiteiten en hun stand, termijnagenda en budget, als
    toegankelijke HTML met één CSS-bestand (geen scripts, niets van buiten); zonder
    persoonsgegevens van medewerkers."""
    moment = now_from(now)
    with app_context() as app:
        written = publish(app, out, now=moment, programme=programme, actor=reader(app, by))
    console.print(
        f"[green]Website geschreven:[/] {len(written)} bestanden in {out} (begin bij "
        f"{out / 'index.html'}).",
        highlight=False,
    )


def export_evaluation(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Bestand: .csv of .xlsx (het type volgt de naam)."),
    ],
    programme: ProgrammeOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Schrijf de cijfers van de evaluatie per thema naar CSV of XLSX."""
    exports.table_format(output)  # an unknown suffix: refused before anything is read
    moment = now_from(now)
    with app_context() as app:
        found = evaluation_export(app, now=moment, programme=programme, actor=reader(app, by))
    count = exports.write(found, output)
    console.print(f"{count} regels geschreven naar {output}.", highlight=False)


def register(app: typer.Typer) -> None:
    from veiligheid_flow.entrypoints.cli.data import export_app

    app.add_typer(report_app, name="rapport")
    app.command("publiceer")(friendly_errors(publish_site))
    export_app.command("evaluatie")(friendly_errors(export_evaluation))
