"""The data side of the CLI: `budget` (planned against realised) and `budget boek`, `export
taken|termijnagenda -o FILE.csv|.xlsx`, and `termijnagenda importeer FILE`."""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veiligheid_flow.app import budget as budgets
from veiligheid_flow.app import council_import, exports
from veiligheid_flow.app.queries import TaskQuery
from veiligheid_flow.app.views import list_json, plain
from veiligheid_flow.clock import local_datetime
from veiligheid_flow.entrypoints.cli import read as cli_read
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    ReaderOption,
    app_context,
    console,
    friendly_errors,
    now_from,
    parse_day,
    print_json,
    reader,
    report,
)

ByOption = Annotated[
    str, typer.Option("--by", help="Coördinator van de gemeente: e-mail of id (bv. OOV1).")
]
OutputOption = Annotated[
    Path, typer.Option("--output", "-o", help="Bestand: .csv of .xlsx (het type volgt de naam).")
]


def _money(amount: Decimal) -> str:
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"€ {text}"


# --- budget --------------------------------------------------------------------------------


def budget_list(
    ctx: typer.Context,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Begroting per thema en jaar: gepland tegenover gerealiseerd (regels en boekingen)."""
    if ctx.invoked_subcommand is not None:
        return
    moment = now_from(now)
    with app_context() as app:
        rows = budgets.budget(
            app, now=moment, actor=reader(app, by, municipality), municipality=municipality
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = Table(title=f"Begroting: {len(rows)} regels")
    for name, justify in (
        ("gemeente", "left"),
        ("thema", "left"),
        ("jaar", "left"),
        ("gepland", "right"),
        ("gerealiseerd", "right"),
        ("%", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for v in rows:
        share = f"{v.realised / v.planned:.0%}" if v.planned else "-"
        table.add_row(
            v.municipality,
            f"{v.theme_code} — {v.theme_name}",
            str(v.year),
            _money(v.planned),
            _money(v.realised),
            share,
        )
    console.print(table)


def budget_book(
    theme: Annotated[str, typer.Argument(help="Thema: code of naam (bv. ONDERMIJNING).")],
    year: Annotated[int, typer.Argument(help="Jaar (bv. 2024).", min=2000, max=2100)],
    amount: Annotated[
        str,
        typer.Argument(
            help="Bedrag in euro: 1.250,50 of 1250.50; negatief (bv. -300) is een correctie."
        ),
    ],
    description: Annotated[
        str, typer.Option("--omschrijving", help="Waarvoor (verplicht; komt in het auditspoor).")
    ],
    by: ByOption,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Boek een gerealiseerd bedrag op een thema en jaar (alleen de coördinator)."""
    moment = now_from(now)
    with app_context() as app:
        done = budgets.book(
            app,
            theme,
            year,
            amount,
            description=description,
            by=by,
            now=moment,
            municipality=municipality,
        )
    v = done.view
    text = (
        f"Geboekt: {_money(done.entry.amount)} op {v.theme_code} ({v.theme_name}) {v.year}; "
        f"gerealiseerd nu {_money(v.realised)} van {_money(v.planned)} gepland."
    )
    data = {
        "now": local_datetime(moment).isoformat(),
        "item": plain(done.view) | {"booked": plain(done.entry)},
        "message": text,
    }
    report(as_json, text, data)


# --- export --------------------------------------------------------------------------------


def _export(export: exports.Export, output: Path, what: str) -> None:
    count = exports.write(export, output)
    console.print(f"{count} {what} geschreven naar {output}.", highlight=False)


def export_termijnagenda(
    output: OutputOption,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Schrijf de termijnagenda naar CSV of XLSX (zelfde regels als termijnagenda --json)."""
    exports.table_format(output)  # an unknown suffix: refused before anything is read
    moment = now_from(now)
    with app_context() as app:
        found = exports.council_export(
            app, now=moment, municipality=municipality, actor=reader(app, by, municipality)
        )
    _export(found, output, "punten")


def _task_query(values: dict[str, Any]) -> TaskQuery:
    """The filters of `veiligheid tasks`, from its own options (see main.list_tasks)."""
    due_after, due_before = values["due_after"], values["due_before"]
    return TaskQuery(
        owner=values["owner"],
        theme=values["theme"],
        status=tuple(values["status"] or ()),
        statutory=values["statutory"],
        due_after=parse_day(due_after, "--due-after") if due_after else None,
        due_before=parse_day(due_before, "--due-before") if due_before else None,
        programme=values["programme"],
        municipality=values["municipality"],
        include_closed=values["all_"],
    )


def _export_tasks_command(tasks_command: Any) -> Any:
    """`export taken`: the options of `veiligheid tasks` itself (taken from its signature, so
    they cannot drift apart), without --json, plus -o."""
    original = inspect.signature(tasks_command, eval_str=True)
    kept = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in original.parameters.values()
        if p.name != "as_json"
    ]
    output = inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, annotation=OutputOption)

    def export_taken(**values: Any) -> None:
        """Schrijf taken naar CSV of XLSX, met dezelfde filters als `veiligheid tasks`."""
        path = values.pop("output")
        exports.table_format(path)
        filters = _task_query(values)
        moment = now_from(values["now"])
        with app_context() as app:
            found = exports.tasks_export(
                app,
                now=moment,
                filters=filters,
                actor=reader(app, values["by"], values["municipality"]),
            )
        _export(found, path, "taken")

    export_taken.__signature__ = original.replace(parameters=[output, *kept])  # type: ignore[attr-defined]
    export_taken.__annotations__ = {p.name: p.annotation for p in [output, *kept]}
    return export_taken


# --- termijnagenda importeer ---------------------------------------------------------------


def termijnagenda_group(
    ctx: typer.Context,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """De termijnagenda: raadsstukken, commissiedatum, aanleverdatum, dagen over, in gevaar.
    `termijnagenda importeer BESTAND` leest haar uit de export van iBabs of NotuBiz."""
    if ctx.invoked_subcommand is None:
        cli_read.termijnagenda(municipality=municipality, as_json=as_json, now=now, by=by)


def termijnagenda_import(
    file: Annotated[
        Path, typer.Argument(help="Export van het raadsinformatiesysteem: .csv of .xlsx.")
    ],
    by: ByOption,
    columns: Annotated[
        str | None,
        typer.Option(
            "--kolommen",
            help="Welke kolom welk veld is, bv. 'onderwerp=Titel,commissie=Commissie' (velden: "
            "code, onderwerp, soort, portefeuillehouder, commissie, commissiedatum, raadsdatum, "
            "aanleverdatum, aanleverwerkdagen). Vult council_import in het programma aan.",
        ),
    ] = None,
    programme: Annotated[
        str | None, typer.Option("--programme", help="Programmacode (nodig bij meer dan één).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Toon wat er zou veranderen; wijzig niets.")
    ] = False,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Importeer de termijnagenda (CSV of XLSX); elke regel wordt gecontroleerd, bij één fout
    wordt niets geïmporteerd. Opnieuw importeren wijzigt alleen wat anders is."""
    moment = now_from(now)
    with app_context() as app:
        done = council_import.import_agenda(
            app, file, by=by, now=moment, columns=columns, programme=programme, dry_run=dry_run
        )
    report(as_json, done.message, {"now": local_datetime(moment).isoformat(), "item": plain(done)})


# --- registration ------------------------------------------------------------------------

# The `export` group: another export registers itself with `export_app.command("…")` (before
# or after `register`; the group is added to the app once, here).
export_app = typer.Typer(no_args_is_help=True, help="Lijsten als CSV of XLSX.")


def register(app: typer.Typer) -> None:
    """`budget`, `export` and `termijnagenda importeer` (the listing `termijnagenda` becomes a
    group that still lists without a subcommand)."""
    budget_app = typer.Typer(no_args_is_help=False, help="Begroting: gepland en gerealiseerd.")
    budget_app.callback(invoke_without_command=True)(friendly_errors(budget_list))
    # A negative amount (-300) is an argument, not an unknown option.
    budget_app.command("boek", context_settings={"ignore_unknown_options": True})(
        friendly_errors(budget_book)
    )
    app.add_typer(budget_app, name="budget")

    tasks_command = next(c.callback for c in app.registered_commands if c.name == "tasks")
    export_app.command("taken")(friendly_errors(_export_tasks_command(tasks_command)))
    export_app.command("termijnagenda")(friendly_errors(export_termijnagenda))
    app.add_typer(export_app, name="export")

    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "termijnagenda"]
    agenda_app = typer.Typer(no_args_is_help=False)
    agenda_app.callback(invoke_without_command=True)(friendly_errors(termijnagenda_group))
    agenda_app.command("importeer")(friendly_errors(termijnagenda_import))
    app.add_typer(agenda_app, name="termijnagenda")
