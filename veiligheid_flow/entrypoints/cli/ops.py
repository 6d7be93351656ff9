"""CLI for operations (beheer): status, backup, restore, and the report of `veiligheid run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.jobs import DispatchReport, JobResult
from veiligheid_flow.app.views import Status, exitcodes
from veiligheid_flow.clock import local_datetime
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    NowOption,
    console,
    err_console,
    friendly_errors,
    now_from,
    print_json,
)
from veiligheid_flow.settings import Settings


def report_run(results: list[JobResult], report: DispatchReport) -> None:
    """What `veiligheid run` prints: one line per job (a failed one on stderr), the outbox, and
    the exit code: 3 when a job failed, else 4 when mail was not delivered, else 0."""
    for result in results:
        if result.error:
            err_console.print(result.error, markup=False, highlight=False, soft_wrap=True)
            continue
        if not result.slot:
            console.print(f"{result.job}: niet aan de beurt")
            continue
        console.print(f"{result.job}: {result.enqueued} bericht(en) voor {result.slot}")
        if result.applied:  # a job that changes data (retention)
            console.print(f"{result.job}: {result.applied} rij(en) bijgewerkt")
    uncertain = [i for i, s in report.recovered.items() if s == "uncertain"] + report.uncertain
    console.print(
        f"outbox: {len(report.sent)} verstuurd, {len(report.retried)} later opnieuw, "
        f"{len(report.failed)} mislukt" + (f", {len(uncertain)} onzeker" if uncertain else "")
    )
    if any(r.error for r in results):
        raise typer.Exit(exitcodes.JOB_FAILED)
    if report.failed or report.retried or uncertain:
        raise typer.Exit(exitcodes.MAIL_PROBLEM)


def local_when(moment: object) -> str:
    """A stored UTC moment as local time (DD-MM-JJJJ HH:MM), or '-'."""
    return f"{local_datetime(moment):%d-%m-%Y %H:%M}" if moment else "-"  # type: ignore[arg-type]


def status(as_json: JsonOption = False, now: NowOption = None) -> None:
    """Toon of alles draait: database, laatste run per taak, outbox.

    Exitcode 0: in orde; 1: database onbereikbaar of niet bijgewerkt; 3: een taak is mislukt
    of heeft haar dag gemist; 4: mail blijft hangen of is onzeker."""
    found = queries.system_status(Settings(), now=now_from(now))
    if as_json:
        print_json(found.as_dict())
    else:
        _print_status(found)
    raise typer.Exit(found.exit_code)


def _print_status(found: Status) -> None:
    if found.error:
        err_console.print(found.error, markup=False, highlight=False, soft_wrap=True)
        return
    console.print(f"Database: {found.database}, versie {found.revision} (actueel).", markup=False)
    table = Table(title="Taken (tijden Europe/Amsterdam)")
    for name in ("taak", "laatste dag", "gedraaid", "verwacht", "toestand"):
        table.add_column(name, overflow="fold")
    for job in found.jobs:
        state = "MISLUKT" if job.failure else "GEMIST" if job.missed else "in orde"
        table.add_row(
            job.job,
            job.last_slot or "nog nooit",
            local_when(job.ran_at),
            str(job.expected_slot or "-"),
            state,
        )
    console.print(table)
    for job in found.jobs:
        if job.failure:
            console.print(
                f"{job.failure.error} ({local_when(job.failure.at)})", markup=False, soft_wrap=True
            )
        elif job.missed:
            console.print(
                f"{job.job}: {job.expected_slot} is niet gedraaid (laatste: "
                f"{job.last_slot or 'nog nooit'}); draait de planner?",
                markup=False,
                soft_wrap=True,
            )
    for name, failure in found.other_failures.items():
        console.print(f"{name}: {failure.error} ({local_when(failure.at)})", markup=False)
    outbox = found.outbox
    assert outbox is not None
    counts = ", ".join(f"{k}: {v}" for k, v in outbox.counts.items())
    console.print(f"Outbox: {counts}.", markup=False)
    if outbox.oldest_pending is not None:
        oldest = outbox.oldest_pending
        console.print(
            f"Oudste wachtende bericht: {oldest.id} aan {oldest.recipient}, "
            f"{oldest.minutes} minuten oud (grens {outbox.threshold_minutes}).",
            markup=False,
        )
    if outbox.stuck_sending:
        console.print(f"{outbox.stuck_sending} bericht(en) hangen in 'sending'.", markup=False)
    verdict = {
        exitcodes.OK: "In orde.",
        exitcodes.JOB_FAILED: "Actie nodig: een taak is mislukt of gemist.",
        exitcodes.MAIL_PROBLEM: (
            "Actie nodig: mail blijft hangen of is onzeker "
            "(veiligheid outbox --status uncertain / pending)."
        ),
    }[found.exit_code]
    console.print(verdict, markup=False)


YesOption = Annotated[bool, typer.Option("--yes", help="Overschrijf een bestaand bestand.")]


def backup(
    file: Annotated[Path, typer.Argument(help="Doelbestand (.db).")], yes: YesOption = False
) -> None:
    """Maak een consistente kopie van de SQLite-database, ook terwijl de planner draait."""
    result = commands.backup_database(Settings(), file, overwrite=yes)
    console.print(
        f"Kopie geschreven naar {result.path} (versie {result.revision}, "
        f"{result.size // 1024} KiB).",
        markup=False,
    )


def restore(
    file: Annotated[Path, typer.Argument(help="Een kopie gemaakt met 'veiligheid backup'.")],
    yes: Annotated[bool, typer.Option("--yes", help="Overschrijf de huidige database.")] = False,
) -> None:
    """Zet een kopie terug over de SQLite-database (alleen met --yes als die al bestaat)."""
    result = commands.restore_database(Settings(), file, overwrite=yes)
    console.print(
        f"Teruggezet: {result.path} (versie {result.revision}, nu {result.head}).", markup=False
    )


def register(app: typer.Typer) -> None:
    app.command("status")(friendly_errors(status))
    app.command("backup")(friendly_errors(backup))
    app.command("restore")(friendly_errors(restore))
