"""The `veiligheid` command. Thin: parses arguments, calls use cases, prints."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veiligheid_flow import cli_mail, cli_ops, cli_rules, usecases
from veiligheid_flow.audit import service as audit_service
from veiligheid_flow.cli_support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    app_context,
    console,
    default_actor,
    friendly_errors,
    now_from,
    parse_day,
    print_json,
)
from veiligheid_flow.programme.service import check_municipality
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import TaskStatus
from veiligheid_flow.tasks.views import task_dict, task_table

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="veiligheid-flow: het Uitvoeringsprogramma Veiligheid als taken met regels.",
)
task_app = typer.Typer(no_args_is_help=True, help="Eén taak bijwerken.")
db_app = typer.Typer(no_args_is_help=True, help="Database beheren.")
app.add_typer(task_app, name="task")
app.add_typer(db_app, name="db")

ByOption = Annotated[str, typer.Option("--by", help="E-mailadres van wie dit doet.")]
FileArg = Annotated[Path, typer.Argument(help="Programmabestand (YAML).")]


@app.command()
@friendly_errors
def validate(file: FileArg) -> None:
    """Controleer een programmabestand en meld álle fouten tegelijk."""
    with app_context(migrate=False) as ctx:
        loaded = usecases.validate(ctx, file)
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
    file: FileArg, by: Annotated[str | None, typer.Option("--by")] = None, now: NowOption = None
) -> None:
    """Laad een programmabestand (opnieuw laden is veilig: alleen wijzigingen worden verwerkt)."""
    moment = now_from(now)
    with app_context() as ctx:
        result = usecases.load(ctx, file, now=moment, actor=by or default_actor())
    report = result.report
    if not report.changed:
        console.print(f"Geen wijzigingen: {report.programme_code} is al actueel.")
        return
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(report.counts.items()) if v)
    verb = "Geladen" if report.created else "Bijgewerkt"
    console.print(f"[green]{verb}:[/] {report.programme_code} ({summary}).")


@app.command("tasks")
@friendly_errors
def list_tasks(
    owner: Annotated[
        str | None, typer.Option(help="E-mail of id van eigenaar/verantwoordelijke.")
    ] = None,
    theme: Annotated[str | None, typer.Option(help="Themacode.")] = None,
    status: Annotated[list[TaskStatus] | None, typer.Option(help="Status (herhaalbaar).")] = None,
    due_after: Annotated[str | None, typer.Option(help="Deadline op of na (JJJJ-MM-DD).")] = None,
    due_before: Annotated[str | None, typer.Option(help="Deadline vóór (JJJJ-MM-DD).")] = None,
    statutory: Annotated[bool | None, typer.Option("--statutory/--not-statutory")] = None,
    programme: Annotated[str | None, typer.Option(help="Programmacode.")] = None,
    municipality: MunicipalityOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Ook afgeronde en vervallen taken.")] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Toon taken in de volgorde van het werk (regels), met filters."""
    filters = task_service.TaskFilter(
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
    with app_context() as ctx, usecases.view_at(ctx, now=now_from(now)) as session:
        if municipality:
            check_municipality(session, municipality)
        tasks = task_service.list_tasks(session=session, filters=filters)
        if as_json:
            print_json([task_dict(t, rank) for rank, t in enumerate(tasks, 1)])
        else:
            console.print(task_table(tasks, f"{len(tasks)} taken"))


@app.command()
@friendly_errors
def week(
    municipality: MunicipalityOption = None, as_json: JsonOption = False, now: NowOption = None
) -> None:
    """Het werk van deze week (en wat te laat is), in volgorde."""
    moment = now_from(now)
    with app_context() as ctx, usecases.view_at(ctx, now=moment) as session:
        monday, tasks = usecases.week_tasks(session, now=moment, municipality=municipality)
        _print_week(monday, tasks, as_json)


def _print_week(monday: date, tasks: list, as_json: bool) -> None:
    if as_json:
        print_json([task_dict(t, rank) for rank, t in enumerate(tasks, 1)])
    elif tasks:
        console.print(task_table(tasks, f"Week van {monday:%d-%m-%Y}: {len(tasks)} taken"))
    else:
        console.print(
            f"Geen open taken in de week van {monday:%d-%m-%Y}. "
            "Kijk met --now naar een andere datum, bv. --now 2023-10-02."
        )


def _transition(to: TaskStatus, task_id: int, by: str, note: str | None, now: str | None) -> None:
    with app_context() as ctx:
        task = usecases.change_status(ctx, task_id, to, by=by, now=now_from(now), note=note)
    console.print(f"Taak {task.id} is nu '{to.value}'.")


NoteOption = Annotated[str | None, typer.Option("--note", help="Toelichting.")]


@task_app.command("start")
@friendly_errors
def task_start(task_id: int, by: ByOption, note: NoteOption = None, now: NowOption = None) -> None:
    """Zet een taak op 'in behandeling'."""
    _transition(TaskStatus.IN_PROGRESS, task_id, by, note, now)


@task_app.command("done")
@friendly_errors
def task_done(task_id: int, by: ByOption, note: NoteOption = None, now: NowOption = None) -> None:
    """Meld een taak gereed (wie, wanneer, toelichting)."""
    _transition(TaskStatus.DONE, task_id, by, note, now)


@task_app.command("cancel")
@friendly_errors
def task_cancel(task_id: int, by: ByOption, note: NoteOption = None, now: NowOption = None) -> None:
    """Laat een taak vervallen."""
    _transition(TaskStatus.CANCELLED, task_id, by, note, now)


@task_app.command("reopen")
@friendly_errors
def task_reopen(task_id: int, by: ByOption, note: NoteOption = None, now: NowOption = None) -> None:
    """Heropen een taak."""
    _transition(TaskStatus.OPEN, task_id, by, note, now)


@task_app.command("reassign")
@friendly_errors
def task_reassign(
    task_id: int, by: ByOption, note: NoteOption = None, now: NowOption = None
) -> None:
    """Draag een taak over aan de achtervang."""
    with app_context() as ctx:
        task = usecases.reassign(ctx, task_id, by=by, now=now_from(now), reason=note)
    console.print(f"Taak {task.id} is overgedragen aan de achtervang.")


@app.command("log")
@friendly_errors
def show_log(
    task: Annotated[int | None, typer.Option(help="Alleen deze taak.")] = None,
    action: Annotated[str | None, typer.Option(help="Soort, bv. task. of crisis.")] = None,
    limit: Annotated[int | None, typer.Option(help="Alleen de laatste N.")] = None,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
) -> None:
    """Het auditspoor: wanneer, wie, wat, vóór → na, en waarom."""
    with app_context() as ctx, ctx.sessions() as session:
        rows = audit_service.entries(
            session=session,
            object_type="task" if task else None,
            object_id=str(task) if task else None,
            action=action,
            limit=limit,
            about=usecases.audit_about_municipality(session, municipality)
            if municipality
            else None,
        )
        data = [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "object": f"{r.object_type}:{r.object_id}",
                "before": r.before,
                "after": r.after,
                "reason": r.reason,
                "rules": r.rule_ids,
            }
            for r in rows
        ]
    if as_json:
        print_json(data)
        return
    table = Table(title=f"Auditspoor ({len(data)})")
    for name in ("id", "wanneer (UTC)", "wie", "wat", "object", "vóór → na", "waarom"):
        table.add_column(name, overflow="fold")
    for row in data:
        change = f"{row['before'] or ''} → {row['after'] or ''}"
        why = " ".join(filter(None, [row["reason"], ", ".join(row["rules"] or [])]))
        table.add_row(
            str(row["id"]), row["at"][:19], row["actor"], row["action"], row["object"], change, why
        )
    console.print(table)


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
        result = usecases.load(ctx, ctx.settings.programme, now=moment, actor="veiligheid start")
        console.print(
            f"Programma {result.report.programme_code} is "
            f"{'bijgewerkt' if result.report.changed else 'actueel'}."
        )
        with usecases.view_at(ctx, now=moment) as session:
            monday, tasks = usecases.week_tasks(
                session, now=moment, municipality=result.municipality
            )
            _print_week(monday, tasks, as_json=False)


cli_rules.register(app)
cli_mail.register(app)
cli_ops.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
