"""CLI commands for email and scheduling: run, serve, outbox, digest preview, calendar export."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.jobs import dispatch_outbox, run_due
from veiligheid_flow.app.views import SYSTEM, Actor, item_json, plain
from veiligheid_flow.entrypoints.cli.ops import local_when, report_run
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    OutboxStatusOption,
    ReaderOption,
    app_context,
    console,
    default_actor,
    friendly_errors,
    now_from,
    print_json,
    reader,
    report,
    write_output,
)

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
        result = commands.load(ctx, ctx.settings.programme, by=SYSTEM, now=system_clock())
        console.print(
            f"Programma {result.programme_code} geladen; "
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
    status: OutboxStatusOption = None,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    by: ReaderOption = None,
) -> None:
    """Toon de berichten in de outbox (status in het Nederlands; met --json de Engelse
    waarde: pending, sending, sent, failed, uncertain)."""
    if ctx.invoked_subcommand:
        return
    with app_context() as app:
        rows = queries.outbox(
            app, status=status, municipality=municipality, actor=reader(app, by, municipality)
        )
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "status": r.status,
                    "kind": r.kind,
                    "to": r.to,
                    "subject": r.subject,
                    "attempts": r.attempts,
                    "error": r.error,
                    "key": r.key,
                }
                for r in rows
            ]
        )
        return
    table = Table(title=f"Outbox ({len(rows)})")
    for name in ("id", "status", "soort", "aan", "onderwerp", "pogingen", "fout"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id), r.status_label, r.kind, r.to, r.subject, str(r.attempts), r.error or ""
        )
    console.print(table)


MessageBy = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Coördinator van een gemeente waar het bericht over gaat (e-mail, id of naam). "
        "Zonder --by handelt u als beheerder aan de shell (uw loginnaam komt in het auditspoor).",
    ),
]


def _acting(by: str | None) -> str | Actor:
    """A coordinator named with --by, or else the operator at the shell."""
    return by if by else commands.operator(default_actor())


@outbox_app.command("retry")
@friendly_errors
def outbox_retry(
    message_id: int, by: MessageBy = None, now: NowOption = None, as_json: JsonOption = False
) -> None:
    """Zet een mislukt of onzeker bericht opnieuw klaar (onzeker: alleen als de maillog laat
    zien dat het niet is aangekomen)."""
    moment = now_from(now)
    with app_context() as app:
        done = commands.retry_message(app, message_id, by=_acting(by), now=moment)
    text = f"Bericht {done.id} staat weer klaar."
    data = item_json(moment, plain(done) | {"action": "email.retry", "message": text})
    report(as_json, text, data)


@outbox_app.command("confirm")
@friendly_errors
def outbox_confirm(
    message_id: int,
    header: Annotated[
        str,
        typer.Option(
            "--message-id",
            help="De Message-ID zoals de maillog hem toont (bv. <…@gemeente.nl>): het "
            "bewijs dat dit bericht is aangekomen.",
        ),
    ],
    by: MessageBy = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bevestig dat een onzeker bericht volgens de maillog wél is aangekomen (niet opnieuw)."""
    moment = now_from(now)
    with app_context() as app:
        done = commands.confirm_message(
            app, message_id, by=_acting(by), now=moment, header=header
        )
    text = f"Bericht {done.id} staat als verstuurd."
    data = item_json(moment, plain(done) | {"action": "email.confirm", "message": text})
    report(as_json, text, data)


@outbox_app.command("show")
@friendly_errors
def outbox_show(message_id: int, as_json: JsonOption = False, by: ReaderOption = None) -> None:
    """Eén bericht: status, aan wie, onderwerp, pogingen, fout, en de Message-ID om in de
    maillog te zoeken."""
    with app_context() as app:
        item = queries.message(app, message_id, actor=reader(app, by, None))
    if as_json:
        print_json(plain(item))
        return
    table = Table(title=f"Bericht {item.id}", show_header=False)
    table.add_column("veld")
    table.add_column("waarde", overflow="fold")
    for label, value in (
        ("status", item.status_label),
        ("soort", item.kind),
        ("aan", item.to),
        ("cc", ", ".join(item.cc) or "-"),
        ("onderwerp", item.subject),
        ("Message-ID", item.message_id),
        ("pogingen", str(item.attempts)),
        ("fout", item.error or "-"),
        ("gemaakt", local_when(item.created_at)),
        ("verstuurd", local_when(item.sent_at)),
        ("gemeenten", ", ".join(item.municipalities) or "-"),
    ):
        table.add_row(label, value)
    console.print(table)


def dispatch(now: NowOption = None) -> None:
    """Verstuur wat in de outbox klaarstaat, zonder de taken te draaien (exitcode 4 als er
    mail niet is afgeleverd)."""
    moment = now_from(now)
    with app_context() as ctx:
        sent = dispatch_outbox(ctx, now=moment)
    report_run([], sent)


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
    by: ReaderOption = None,
) -> None:
    """Toon het weekoverzicht van een portefeuillehouder (tekst, of HTML naar een bestand)."""
    moment = now_from(now)
    with app_context() as app:
        draft = queries.digest_preview(
            app,
            now=moment,
            holder=holder,
            municipality=municipality,
            actor=reader(app, by, municipality),
        )
    if html:
        write_output(html, draft.html)
        console.print(f"HTML geschreven naar {html}")
    console.print(f"Onderwerp: {draft.subject}\n\n{draft.text}", markup=False, highlight=False)


def calendar(
    person: str,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Exporteer de deadlines van een medewerker als .ics-agenda (alle gemeenten, of één)."""
    moment = now_from(now)
    with app_context() as app:
        feed = queries.deadlines_calendar(
            app,
            now=moment,
            person=person,
            municipality=municipality,
            actor=reader(app, by, municipality),
        )
    if output:
        write_output(output, feed)
        console.print(f"{output} geschreven.")
    else:
        typer.echo(feed)


def register(app: typer.Typer) -> None:
    app.command("run")(friendly_errors(run))
    app.command("dispatch")(friendly_errors(dispatch))
    app.command("serve")(friendly_errors(serve))
    app.add_typer(outbox_app, name="outbox")
    app.command("digest")(friendly_errors(digest))
    app.command("calendar")(friendly_errors(calendar))
