"""CLI commands for email and scheduling: run, serve, outbox, digest preview, calendar export."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from veiligheid_flow import usecases
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.entrypoints.cli.ops import report_run
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    app_context,
    console,
    default_actor,
    friendly_errors,
    now_from,
    print_json,
    write_output,
)
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.dispatch import confirm_sent, retry
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import deadlines_ics
from veiligheid_flow.programme.service import check_municipality

outbox_app = typer.Typer(
    help="De outbox: berichten die klaarstaan, verstuurd of mislukt zijn.",
    invoke_without_command=True,
)


def run(now: NowOption = None) -> None:
    """Voer elke taak uit die op dit moment aan de beurt is, één keer, en stop (voor cron)."""
    moment = now_from(now)
    with app_context() as ctx:
        results, report = run_due(ctx, now=moment)
    report_run(results, report)  # one line per job; exit code 3 or 4 (README "Beheer")


def serve(
    prefect: Annotated[
        bool, typer.Option("--prefect", help="Voer de Prefect-flows uit (tijdelijke server).")
    ] = False,
) -> None:
    """Start de ingebouwde planner (APScheduler); stop met Ctrl-C."""
    from veiligheid_flow.entrypoints.scheduler import (
        build_scheduler,
        direct_runner,
        prefect_runner,
        system_clock,
    )

    with app_context() as ctx:
        result = usecases.load(ctx, ctx.settings.programme, now=system_clock(), actor=SYSTEM)
        console.print(
            f"Programma {result.report.programme_code} geladen; "
            f"berichten gaan naar {ctx.settings.smtp_host or ctx.settings.mail_dir}."
        )
        if prefect:
            console.print("Prefect starten (tijdelijke server)…")
            runner = prefect_runner(ctx.settings.mail_dir.parent / "prefect")
        else:
            runner = direct_runner(ctx)
        scheduler = build_scheduler(ctx, runner, system_clock, console.print)
        for job in scheduler.get_jobs():
            console.print(f"  {job.name}: {job.trigger}", markup=False, highlight=False)
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or `docker stop`: finish quietly
            signal.signal(sig, lambda _signum, _frame: stopping.set())
        scheduler.start()
        console.print("Planner draait; stop met Ctrl-C.")
        while not stopping.wait(timeout=1):
            pass
        scheduler.shutdown(wait=True)  # lets a running job finish its transaction
    console.print("Planner gestopt.")


@outbox_app.callback()
@friendly_errors
def outbox(
    ctx: typer.Context,
    status: Annotated[OutboxStatus | None, typer.Option(help="Alleen deze status.")] = None,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
) -> None:
    """Toon de berichten in de outbox."""
    if ctx.invoked_subcommand:
        return
    with app_context() as app, app.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if status:
            query = query.where(OutboxMessage.status == status)
        if municipality:
            check_municipality(session, municipality)
            query = query.where(
                ("," + OutboxMessage.municipalities + ",").contains(f",{municipality},")
            )
        rows = [
            {
                "id": r.id,
                "status": r.status.value,
                "kind": r.kind,
                "to": r.recipient,
                "subject": r.subject,
                "attempts": r.attempts,
                "error": r.last_error,
                "key": r.key,
            }
            for r in session.scalars(query)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Outbox ({len(rows)})")
    for name in ("id", "status", "soort", "aan", "onderwerp", "pogingen", "fout"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["status"],
            r["kind"],
            r["to"],
            r["subject"],
            str(r["attempts"]),
            r["error"] or "",
        )
    console.print(table)


@outbox_app.command("retry")
@friendly_errors
def outbox_retry(
    message_id: int, by: Annotated[str | None, typer.Option()] = None, now: NowOption = None
) -> None:
    """Zet een mislukt of onzeker bericht opnieuw klaar (onzeker: alleen als de maillog laat
    zien dat het niet is aangekomen)."""
    with app_context() as app, app.unit_of_work() as session:
        retry(session, message_id, now=now_from(now), by=by or default_actor())
    console.print(f"Bericht {message_id} staat weer klaar.")


@outbox_app.command("confirm")
@friendly_errors
def outbox_confirm(
    message_id: int, by: Annotated[str | None, typer.Option()] = None, now: NowOption = None
) -> None:
    """Bevestig dat een onzeker bericht volgens de maillog wél is aangekomen (niet opnieuw)."""
    with app_context() as app, app.unit_of_work() as session:
        confirm_sent(session, message_id, now=now_from(now), by=by or default_actor())
    console.print(f"Bericht {message_id} staat als verstuurd.")


def digest(
    holder: Annotated[str, typer.Option("--holder", help="E-mail, id of titel.")],
    preview: Annotated[  # accepted for clarity: this command only ever previews
        bool,
        typer.Option(
            "--preview", help="Alleen tonen (altijd zo: het weekoverzicht gaat via de planner)."
        ),
    ] = True,
    html: Annotated[Path | None, typer.Option(help="Schrijf de HTML naar dit bestand.")] = None,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
) -> None:
    """Toon het weekoverzicht van een portefeuillehouder (tekst, of HTML naar een bestand)."""
    from veiligheid_flow.authority import resolve_holder

    moment = now_from(now)
    with app_context() as app, usecases.view_at(app, now=moment) as session:
        found = resolve_holder(session, holder, municipality)
        draft = compose.digest(session, now=moment, holder=found, book=app.rulebook())
    if html:
        write_output(html, draft.html)
        console.print(f"HTML geschreven naar {html}")
    console.print(f"Onderwerp: {draft.subject}\n\n{draft.text}", markup=False, highlight=False)


def calendar(
    person: str,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
) -> None:
    """Exporteer de deadlines van een medewerker als .ics-agenda (alle gemeenten, of één)."""
    from veiligheid_flow.authority import resolve_person
    from veiligheid_flow.tasks import service as task_service

    moment = now_from(now)
    with app_context() as app, usecases.view_at(app, now=moment) as session:
        email = resolve_person(session, person, municipality)
        if municipality:
            check_municipality(session, municipality)
        tasks = task_service.list_tasks(
            session=session,
            filters=task_service.TaskFilter(owner=email, municipality=municipality),
        )
        feed = deadlines_ics(
            [
                (f"task-{t.id}", f"Deadline: {t.title}", t.due_date, t.theme.name)
                for t in tasks
                if t.responsible.email == email
            ],
            moment,
        )
    if output:
        write_output(output, feed)
        console.print(f"{output} geschreven.")
    else:
        typer.echo(feed)


def register(app: typer.Typer) -> None:
    app.command("run")(friendly_errors(run))
    app.command("serve")(friendly_errors(serve))
    app.add_typer(outbox_app, name="outbox")
    app.command("digest")(friendly_errors(digest))
    app.command("calendar")(friendly_errors(calendar))
