"""The `veiligheid` command. Thin: parses arguments, calls the application layer
(`app.commands`, `app.queries`, `app.jobs`), prints."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer

from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.views import STATUS_LABELS, SYSTEM, TaskStatus, WeekView, plain
from veiligheid_flow.entrypoints.cli import data as cli_data
from veiligheid_flow.entrypoints.cli import mail as cli_mail
from veiligheid_flow.entrypoints.cli import ops as cli_ops
from veiligheid_flow.entrypoints.cli import read as cli_read
from veiligheid_flow.entrypoints.cli import reports as cli_reports
from veiligheid_flow.entrypoints.cli import rules as cli_rules
from veiligheid_flow.entrypoints.cli import web as cli_web
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    ReaderOption,
    StatusOption,
    app_context,
    console,
    friendly_errors,
    now_from,
    parse_day,
    print_json,
    reader,
    report,
    task_report,
)
from veiligheid_flow.entrypoints.cli.tables import task_table

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="veiligheid-flow: het Uitvoeringsprogramma Veiligheid als taken met regels.",
)
task_app = typer.Typer(no_args_is_help=True, help="Eén taak bijwerken.")
db_app = typer.Typer(no_args_is_help=True, help="Database beheren.")
app.add_typer(task_app, name="task")


def _print_version(value: bool) -> None:
    if value:
        console.print(f"veiligheid-flow {package_version('veiligheid-flow')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Toon de versie en stop.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """veiligheid-flow: het Uitvoeringsprogramma Veiligheid als taken met regels."""


app.add_typer(db_app, name="db")

ByOption = Annotated[
    str,
    typer.Option(
        "--by", help="Wie dit doet: eigenaar, achtervang, waarnemer of coördinator (e-mail of id)."
    ),
]
FileArg = Annotated[Path, typer.Argument(help="Programmabestand (YAML).")]


@app.command()
@friendly_errors
def validate(file: FileArg) -> None:
    """Controleer een programmabestand en meld álle fouten tegelijk."""
    with app_context(migrate=False) as ctx:
        loaded = queries.validate(ctx, file)
    spec = loaded.spec
    activities = sum(len(t.activities) for t in spec.themes)
    console.print(
        f"[green]In orde:[/] {spec.programme.name} ({spec.programme.code}), "
        f"{len(spec.themes)} thema's, {activities} activiteiten, "
        f"{len(spec.council_items)} punten op de termijnagenda."
    )


@app.command()
@friendly_errors
def load(
    file: FileArg,
    by: Annotated[
        str, typer.Option("--by", help="Coördinator van de gemeente: e-mail of id (bv. OOV1).")
    ],
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Laad een programmabestand (opnieuw laden is veilig: alleen wijzigingen worden verwerkt)."""
    moment = now_from(now)
    with app_context() as ctx:
        done = commands.load(ctx, file, by=by, now=moment)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(done.counts.items()) if v)
    verb = "Geladen" if done.created else "Bijgewerkt"
    text = (
        f"[green]{verb}:[/] {done.programme_code} ({summary})."
        if done.changed
        else f"Geen wijzigingen: {done.programme_code} is al actueel."
    )
    data = {"programme": done.programme_code, "created": done.created, "changed": done.changed}
    report(as_json, text, data | {"counts": dict(done.counts)})


@app.command("tasks")
@friendly_errors
def list_tasks(
    owner: Annotated[
        str | None, typer.Option(help="E-mail, id of naam van eigenaar/verantwoordelijke.")
    ] = None,
    theme: Annotated[str | None, typer.Option(help="Themacode.")] = None,
    status: StatusOption = None,
    due_after: Annotated[
        str | None, typer.Option(help="Deadline op of na (JJJJ-MM-DD of DD-MM-JJJJ).")
    ] = None,
    due_before: Annotated[
        str | None, typer.Option(help="Deadline vóór (JJJJ-MM-DD of DD-MM-JJJJ).")
    ] = None,
    statutory: Annotated[bool | None, typer.Option("--statutory/--not-statutory")] = None,
    programme: Annotated[str | None, typer.Option(help="Programmacode.")] = None,
    municipality: MunicipalityOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Ook afgeronde en vervallen taken.")] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Toon taken in de volgorde van het werk (regels), met filters."""
    filters = queries.TaskQuery(
        owner=owner,
        theme=theme,
        status=tuple(status or ()),
        statutory=statutory,
        due_after=parse_day(due_after, "--due-after") if due_after else None,
        due_before=parse_day(due_before, "--due-before") if due_before else None,
        programme=programme,
        municipality=municipality,
        include_closed=all_,
    )
    with app_context() as ctx:
        tasks = queries.tasks(
            ctx, now=now_from(now), filters=filters, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(plain(tasks))
    else:
        console.print(task_table(tasks, f"{len(tasks)} taken"))


@app.command()
@friendly_errors
def week(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Het werk van deze week (en wat te laat is), in volgorde."""
    moment = now_from(now)
    with app_context() as ctx:
        found = queries.week(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    _print_week(found, as_json)


def _print_week(found: WeekView, as_json: bool) -> None:
    monday, tasks = found.monday, list(found.tasks)
    if as_json:
        print_json(plain(tasks))
        return
    for code, municipality, first, last in found.ended:
        inside = first + (last - first) / 2
        inside -= timedelta(days=inside.weekday())
        console.print(
            f"Let op: programma {code} ({municipality}) is geëindigd op {last:%d-%m-%Y}; wat "
            f"hieronder te laat staat, is uit die periode. Kijk met --now naar een moment erin, "
            f"bv. --now {inside:%Y-%m-%d}.",
            markup=False,
        )
    if tasks:
        console.print(task_table(tasks, f"Week van {monday:%d-%m-%Y}: {len(tasks)} taken"))
    else:
        console.print(
            f"Geen open taken in de week van {monday:%d-%m-%Y}. "
            "Kijk met --now naar een andere datum, bv. --now 2023-10-02."
        )


def _transition(
    to: TaskStatus, task_id: int, by: str, note: str | None, now: str | None, as_json: bool
) -> None:
    with app_context() as ctx:
        task = commands.change_status(ctx, task_id, to, by=by, now=now_from(now), note=note)
    text = f"Taak {task.id} is nu {STATUS_LABELS[to]}."
    report(as_json, text, task_report(task, text, f"task.{to.value}"))


NoteOption = Annotated[str | None, typer.Option("--note", help="Toelichting.")]


@task_app.command("start")
@friendly_errors
def task_start(
    task_id: int,
    by: ByOption,
    note: NoteOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zet een taak op 'in behandeling'."""
    _transition(TaskStatus.IN_PROGRESS, task_id, by, note, now, as_json)


@task_app.command("done")
@friendly_errors
def task_done(
    task_id: int,
    by: ByOption,
    note: NoteOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Meld een taak gereed (wie, wanneer, toelichting)."""
    _transition(TaskStatus.DONE, task_id, by, note, now, as_json)


@task_app.command("cancel")
@friendly_errors
def task_cancel(
    task_id: int,
    by: ByOption,
    note: NoteOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Laat een taak vervallen."""
    _transition(TaskStatus.CANCELLED, task_id, by, note, now, as_json)


@task_app.command("reopen")
@friendly_errors
def task_reopen(
    task_id: int,
    by: ByOption,
    note: NoteOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Heropen een taak."""
    _transition(TaskStatus.OPEN, task_id, by, note, now, as_json)


@task_app.command("reassign")
@friendly_errors
def task_reassign(
    task_id: int,
    by: ByOption,
    note: NoteOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Draag een taak over aan de achtervang."""
    with app_context() as ctx:
        task = commands.reassign(ctx, task_id, by=by, now=now_from(now), reason=note)
    text = f"Taak {task.id} is overgedragen aan de achtervang."
    report(as_json, text, task_report(task, text, "task.reassign"))


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Breng het databaseschema bij (Alembic)."""
    with app_context(migrate=False) as ctx:
        ctx.upgrade()
    console.print("Database is bijgewerkt.")


@app.command()
@friendly_errors
def start(now: NowOption = None) -> None:
    """Hoofdtaak: database bijwerken, voorbeeldprogramma laden, werk van deze week tonen."""
    moment = now_from(now)
    with app_context() as ctx:
        result = commands.load(ctx, ctx.settings.programme, by=SYSTEM, now=moment)
        console.print(
            f"Programma {result.programme_code} is {'bijgewerkt' if result.changed else 'actueel'}."
        )
        found = queries.week(ctx, now=moment, municipality=result.municipality)
    _print_week(found, as_json=False)


cli_rules.register(app)
cli_mail.register(app)
cli_ops.register(app)
cli_read.register(app)
cli_web.register(app)
cli_reports.register(app)
cli_data.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
