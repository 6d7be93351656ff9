"""CLI commands of the rules module: crisis, absence, priority, case, explain, forecast."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.views import FACTS, MAX_EXPECTED_DAYS, Impact, impact_json
from veiligheid_flow.entrypoints.cli.support import (
    JsonOption,
    MunicipalityOption,
    NowOption,
    ReaderOption,
    app_context,
    console,
    friendly_errors,
    in_range,
    now_from,
    parse_day,
    print_json,
    reader,
)
from veiligheid_flow.errors import DomainError

crisis_app = typer.Typer(no_args_is_help=True, help="Crises vastleggen, bijwerken en beëindigen.")
absence_app = typer.Typer(no_args_is_help=True, help="Afwezigheid van medewerkers.")
priority_app = typer.Typer(no_args_is_help=True, help="Prioriteit door de portefeuillehouder.")
case_app = typer.Typer(no_args_is_help=True, help="Wettelijke zaken met een wettelijke termijn.")

ByHolder = Annotated[str, typer.Option("--by", help="Portefeuillehouder: e-mail, id of titel.")]
ByAuthority = Annotated[
    str,
    typer.Option(
        "--by", help="Burgemeester of gemandateerde (bv. AOV): e-mail, id of 'burgemeester'."
    ),
]
ByCoordinator = Annotated[str, typer.Option("--by", help="Coördinator: e-mail of id.")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Toon wat er zou gebeuren; leg niets vast.")
]
Yes = Annotated[bool, typer.Option("--yes", help="Bevestig een crisis voor de hele gemeente.")]
ByPerson = Annotated[
    str, typer.Option("--by", help="Wie dit doet: e-mail of id (medewerker, portefeuillehouder).")
]
Themes = Annotated[list[str] | None, typer.Option("--theme", help="Themacode (herhaalbaar).")]
Staff = Annotated[list[str] | None, typer.Option("--staff", help="Medewerker (herhaalbaar).")]


def _announce(crisis_id: int, event: str, as_json: bool = False) -> bool:
    """After the commit: tell a Prefect server, if configured, so crisis-response runs now."""
    announced = commands.announce_crisis(crisis_id, event)
    if announced and not as_json:
        console.print(f"Prefect-gebeurtenis veiligheid.crisis.{event} verstuurd.")
    return announced


def _summary(title: str, impact: Impact) -> str:
    return (
        f"{title}: {len(impact.changes)} taken gewijzigd — {impact.count('paused')} gepauzeerd, "
        f"{impact.count('resumed')} hervat, {impact.count('handed_over')} andere "
        f"verantwoordelijke, {impact.count('new_due_date')} nieuwe deadline, "
        f"{impact.count('council_at_risk')} met termijnagenda in gevaar."
    )


def _done(
    title: str,
    impact: Impact,
    *,
    as_json: bool,
    action: str,
    moment: datetime,
    **extra: object,
) -> None:
    """What a rules-changing command did: the Dutch summary, or with --json {now, item}."""
    if as_json:
        data = impact_json(moment, action, impact, _summary(title, impact))
        data["item"].update(extra)
        print_json(data)
    else:
        _impact(title, impact)


def _impact(title: str, impact: Impact) -> None:
    console.print(_summary(title, impact))
    labels = {
        "paused": "Stil",
        "handed_over": "Naar de achtervang",
        "council_at_risk": "Termijnagenda in gevaar",
    }
    for kind, titles in impact.titles.items():
        if titles:
            console.print(f"  {labels[kind]}: {'; '.join(titles)}", highlight=False)
    if impact.dry_run:
        console.print("Proefdraai: er is niets vastgelegd.")


def _confirm_whole(impact: Impact) -> None:
    """A crisis over the whole municipality: ask in a terminal; elsewhere ask for --yes."""
    where = ", ".join(impact.municipalities)
    if not sys.stdin.isatty():
        raise DomainError(
            f"Deze crisis legt het geplande werk van heel gemeente {where} stil; "
            "voeg --yes toe om dat te bevestigen (er is niets vastgelegd)."
        )
    typer.confirm(f"Al het geplande werk van gemeente {where} stilleggen?", abort=True)


@crisis_app.command("declare")
@friendly_errors
def crisis_declare(
    title: str,
    by: ByAuthority,
    grip: Annotated[int, typer.Option(help="GRIP-niveau 0-5 (verplicht).")],
    theme: Themes = None,
    staff: Staff = None,
    expected_days: Annotated[int | None, typer.Option(help="Verwachte duur in werkdagen.")] = None,
    municipality: Annotated[
        list[str] | None,
        typer.Option(
            help="Gemeente (code, bv. huizen) die de crisis raakt; herhaal voor een regionale "
            "crisis. Standaard de gemeente van de portefeuillehouder."
        ),
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Leg een crisis vast: gepland werk binnen de reikwijdte ligt stil."""
    moment = now_from(now)
    whole = not theme and not staff
    with app_context() as ctx:

        def declare(trial: bool) -> Impact:
            return commands.declare_crisis(
                ctx,
                title,
                grip=grip,
                by=by,
                now=moment,
                themes=theme or [],
                staff=staff or [],
                expected_days=expected_days,
                municipalities=municipality or [],
                dry_run=trial,
            )

        if dry_run or (whole and not yes):
            preview = declare(True)  # refuses a wrong actor or input before anything is asked
            if dry_run:
                _done(
                    "Proefdraai nieuwe crisis",
                    preview,
                    as_json=as_json,
                    action="crisis.declare",
                    moment=moment,
                )
                return
            if not as_json:
                _impact("Proefdraai nieuwe crisis", preview)
            _confirm_whole(preview)
        impact = declare(False)
    announced = _announce(impact.subject_id, "declared", as_json)
    _done(
        f"Crisis {impact.subject_id} vastgelegd",
        impact,
        as_json=as_json,
        action="crisis.declare",
        moment=moment,
        announced=announced,
    )


@crisis_app.command("update")
@friendly_errors
def crisis_update(
    crisis_id: int,
    by: ByAuthority,
    theme: Themes = None,
    staff: Staff = None,
    grip: Annotated[int | None, typer.Option(help="Nieuw GRIP-niveau 0-5.")] = None,
    dry_run: DryRun = False,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Wijzig de reikwijdte of het GRIP-niveau van een lopende crisis."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.update_crisis(
            ctx,
            crisis_id,
            by=by,
            now=moment,
            themes=theme,
            staff=staff,
            grip=grip,
            dry_run=dry_run,
        )
    title = f"Proefdraai crisis {crisis_id}" if dry_run else f"Crisis {crisis_id} bijgewerkt"
    announced = False if dry_run else _announce(crisis_id, "updated", as_json)
    extra = {} if dry_run else {"announced": announced}
    _done(title, impact, as_json=as_json, action="crisis.update", moment=moment, **extra)


@crisis_app.command("end")
@friendly_errors
def crisis_end(
    crisis_id: int, by: ByAuthority, now: NowOption = None, as_json: JsonOption = False
) -> None:
    """Beëindig een crisis: stilgelegd werk wordt hervat met verschoven deadlines."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.end_crisis(ctx, crisis_id, by=by, now=moment)
    announced = _announce(crisis_id, "ended", as_json)
    _done(
        f"Crisis {crisis_id} beëindigd",
        impact,
        as_json=as_json,
        action="crisis.end",
        moment=moment,
        announced=announced,
    )


@absence_app.command("add")
@friendly_errors
def absence_add(
    person: str,
    from_: Annotated[str, typer.Option("--from")],
    to: Annotated[str, typer.Option()],
    by: ByCoordinator,
    reason: Annotated[str | None, typer.Option()] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Leg afwezigheid vast: de achtervang is in die periode verantwoordelijk."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.add_absence(
            ctx,
            person,
            start=parse_day(from_, "--from"),
            end=parse_day(to, "--to"),
            by=by,
            now=moment,
            reason=reason,
        )
    title = f"Afwezigheid {impact.subject_id} vastgelegd"
    _done(title, impact, as_json=as_json, action="absence.add", moment=moment)


@absence_app.command("cancel")
@friendly_errors
def absence_cancel(
    absence_id: int, by: ByCoordinator, now: NowOption = None, as_json: JsonOption = False
) -> None:
    """Trek een afwezigheid in."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.cancel_absence(ctx, absence_id, by=by, now=moment)
    title = f"Afwezigheid {absence_id} ingetrokken"
    _done(title, impact, as_json=as_json, action="absence.cancel", moment=moment)


@priority_app.command("set")
@friendly_errors
def priority_set(
    task_id: int,
    tier: Annotated[int, typer.Option(help="Klasse 1 (hoogst) t/m 9.")],
    by: ByHolder,
    reason: Annotated[str, typer.Option()],
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zet de prioriteitsklasse van een taak (gaat boven de tabellen)."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.set_priority(ctx, task_id, tier=tier, by=by, reason=reason, now=moment)
    title = f"Prioriteit van taak {task_id} gezet"
    _done(title, impact, as_json=as_json, action="priority.set", moment=moment, tier=tier)


@priority_app.command("clear")
@friendly_errors
def priority_clear(
    task_id: int, by: ByHolder, now: NowOption = None, as_json: JsonOption = False
) -> None:
    """Haal de prioriteit van de portefeuillehouder weg; de tabellen beslissen weer."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.clear_priority(ctx, task_id, by=by, now=moment)
    title = f"Prioriteit van taak {task_id} weggehaald"
    _done(title, impact, as_json=as_json, action="priority.clear", moment=moment)


@case_app.command("open")
@friendly_errors
def case_open(
    case_type: str,
    on: Annotated[str, typer.Option("--on", help="Dag van de gebeurtenis.")],
    by: ByPerson,
    ref: Annotated[str | None, typer.Option(help="Kenmerk of korte omschrijving.")] = None,
    extended: Annotated[bool, typer.Option(help="Met wettelijke verlenging.")] = False,
    municipality: MunicipalityOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open een wettelijke zaak; de deadline volgt uit de wettelijke termijn."""
    moment = now_from(now)
    with app_context() as ctx:
        impact = commands.open_case(
            ctx,
            case_type,
            event_day=parse_day(on, "--on"),
            by=by,
            now=moment,
            reference=ref,
            extended=extended,
            municipality=municipality,
        )
        data = queries.explain(ctx, impact.subject_id, now=moment)
    task = data["task"]
    text = (
        f"Taak {task['id']} geopend: {task['title']}, deadline {task['due_date']}, "
        f"verantwoordelijk {task['responsible']}.\n{task['note']}"
    )
    if as_json:
        data = impact_json(moment, "case.open", impact, text)
        data["item"]["task"] = task
        print_json(data)
        return
    console.print(text, highlight=False)


def explain(
    task_id: int, as_json: JsonOption = False, now: NowOption = None, by: ReaderOption = None
) -> None:
    """Waarom een taak haar plaats, status, verantwoordelijke en deadline heeft."""
    with app_context() as ctx:
        data = queries.explain(ctx, task_id, now=now_from(now), actor=reader(ctx, by))
    if as_json:
        print_json(data)
        return
    task = data["task"]
    console.print(f"[bold]Taak {task['id']}[/]: {task['title']} ({task['theme']})", highlight=False)
    console.print(
        f"Plaats {task['rank'] or '-'} in de volgorde, klasse {task['tier']} "
        f"({task['tier_label']}), status {task['status']}"
        f"{', gepauzeerd' if task['paused'] else ''}; deadline {task['due_date']} "
        f"(gepland {task['planned_due']}); verantwoordelijk {task['responsible']} "
        f"(eigenaar {task['owner']}, achtervang {task['backup']}).",
        highlight=False,
    )
    table = Table(title="Regels die beslisten")
    for name in ("tabel", "regel", "versie", "reden", "gelezen feiten"):
        table.add_column(name, overflow="fold")
    for step in data["steps"]:
        facts = ", ".join(f"{k}={v}" for k, v in step["facts"].items())
        table.add_row(step["table"], step["rule_id"], str(step["version"]), step["reason"], facts)
    console.print(table)
    if not data["steps"]:
        console.print("Geen regel paste: standaardklasse, eigenaar verantwoordelijk.")
    facts = Table(title="Feiten op dit moment")
    facts.add_column("feit")
    facts.add_column("waarde")
    facts.add_column("betekenis")
    for name, value in data["facts"].items():
        facts.add_row(name, str(value), FACTS[name][1])
    console.print(facts)


def forecast(
    weeks: Annotated[int, typer.Option(min=1, max=52)] = 8,
    crisis_days: Annotated[int, typer.Option(min=0, help="Stel: crisis van N werkdagen.")] = 0,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Capaciteit: geplande last tegen beschikbare uren per persoon en week; dreigende missers."""
    in_range(crisis_days, range(MAX_EXPECTED_DAYS + 1), "--crisis-days")
    with app_context() as ctx:
        rows, misses = queries.capacity_forecast(
            ctx,
            now=now_from(now),
            weeks=weeks,
            crisis_days=crisis_days,
            municipality=municipality,
            actor=reader(ctx, by, municipality),
        )
    if as_json:
        print_json(
            {
                "weeks": [
                    {
                        "person": r.person,
                        "week": r.week,
                        "capacity": r.capacity,
                        "load": r.load,
                        "over": r.over,
                    }
                    for r in rows
                ],
                "misses": [
                    {
                        "task": m.task.id,
                        "title": m.task.title,
                        "person": m.task.person,
                        "due": m.task.due,
                        "finished_week": m.finished_week,
                    }
                    for m in misses
                ],
            }
        )
        return
    table = Table(title=f"Last / capaciteit (uren) per week, {weeks} weken")
    table.add_column("medewerker")
    mondays = sorted({r.week for r in rows})
    for monday in mondays:
        table.add_column(f"{monday:%d-%m}", justify="right")
    for person in sorted({r.person for r in rows}):
        cells = [r for r in rows if r.person == person]
        table.add_row(
            person,
            *[
                f"[red]{r.load:g}/{r.capacity:g}[/]" if r.over else f"{r.load:g}/{r.capacity:g}"
                for r in cells
            ],
        )
    console.print(table)
    if not misses:
        console.print("Geen deadlines in gevaar binnen deze periode.")
    for miss in misses:
        when = (
            f"klaar in week van {miss.finished_week:%d-%m}"
            if miss.finished_week
            else "niet klaar binnen de periode"
        )
        console.print(
            f"[red]Dreigt te laat:[/] taak {miss.task.id} {miss.task.title} "
            f"({miss.task.person}), deadline {miss.task.due}, {when}.",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(crisis_app, name="crisis")
    app.add_typer(absence_app, name="absence")
    app.add_typer(priority_app, name="priority")
    app.add_typer(case_app, name="case")
    app.command("explain")(friendly_errors(explain))
    app.command("forecast")(friendly_errors(forecast))
