"""The read side of the CLI: crisis list/show, absence list, task show, people, themes,
termijnagenda, log. Each prints a Dutch table, or with --json one shape:
{now, municipality, count, items} for a listing and {now, item} for a show."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from veiligheid_flow.app import queries
from veiligheid_flow.app.views import (
    FLAGS,
    AuditView,
    PersonRef,
    item_json,
    list_json,
)
from veiligheid_flow.entrypoints.cli.rules import absence_app, crisis_app
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
)


def _day(value: date | None) -> str:
    return f"{value:%d-%m-%Y}" if value else "-"


def _when(value: datetime | None) -> str:
    return f"{value:%d-%m-%Y %H:%M}" if value else "-"


def _who(ref: PersonRef | None) -> str:
    if ref is None:
        return "-"
    return ref.name if ref.name == ref.email else f"{ref.name} <{ref.email}>"


def _yes(value: bool) -> str:
    return "ja" if value else "nee"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _change(entry: AuditView) -> str:
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return "; ".join(f"{k}: {before.get(k, '')} → {after.get(k, '')}" for k in keys)


def _why(entry: AuditView) -> str:
    return " ".join(filter(None, [entry.reason, ", ".join(entry.rule_ids)]))


# --- crisis list / show, absence list --------------------------------------------------------


def crisis_list(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Alle crises tot nu (nieuwste eerst): GRIP, reikwijdte, wie, sinds, tot, stilgelegd."""
    moment = now_from(now)
    with app_context() as ctx:
        rows = queries.crises(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = _table(
        f"{len(rows)} crises",
        "id",
        "titel",
        "GRIP",
        "gemeenten",
        "status",
        "sinds",
        "verwacht einde",
        "beëindigd",
        "stilgelegde taken",
    )
    for c in rows:
        table.add_row(
            str(c.id),
            c.title,
            str(c.grip),
            ", ".join(c.municipalities),
            "lopend" if c.active else "beëindigd",
            _when(c.declared_at),
            _day(c.expected_end),
            _when(c.ended_at),
            str(c.paused_tasks),
        )
    console.print(table)


def crisis_show(
    crisis_id: int, as_json: JsonOption = False, now: NowOption = None, by: ReaderOption = None
) -> None:
    """Eén crisis: reikwijdte, wie haar afkondigde en beëindigde, stilgelegde taken."""
    moment = now_from(now)
    with app_context() as ctx:
        c = queries.crisis(ctx, now=moment, crisis_id=crisis_id, actor=reader(ctx, by))
    if as_json:
        print_json(item_json(moment, c))
        return
    state = "lopend" if c.active else "beëindigd"
    lines = [
        f"[bold]Crisis {c.id}[/]: {c.title} (GRIP {c.grip}, {state})",
        f"Gemeenten: {', '.join(c.municipalities)}",
        f"Thema's: {', '.join(c.themes) or 'alle'}",
        f"Crisisdienst: {', '.join(_who(s) for s in c.staff) or 'niemand'}",
        f"Afgekondigd: {_when(c.declared_at)} door {_who(c.declared_by)}",
        f"Verwacht einde: {_day(c.expected_end)}",
        f"Beëindigd: {_when(c.ended_at)}" + (f" door {_who(c.ended_by)}" if c.ended_by else ""),
        f"Stilgelegde taken nu: {c.paused_tasks}",
    ]
    console.print("\n".join(lines), highlight=False)


def absence_list(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Geregistreerde afwezigheid (ook ingetrokken), op begindatum."""
    moment = now_from(now)
    with app_context() as ctx:
        rows = queries.absences(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = _table(
        f"{len(rows)} afwezigheden",
        "id",
        "wie",
        "van",
        "tot en met",
        "nu",
        "reden",
        "vastgelegd door",
        "status",
    )
    for a in rows:
        table.add_row(
            str(a.id),
            _who(a.person),
            _day(a.start),
            _day(a.end),
            _yes(a.current),
            a.reason or "",
            _who(a.created_by),
            "ingetrokken" if a.cancelled else "geldig",
        )
    console.print(table)


# --- task show -------------------------------------------------------------------------------


def task_show(
    task_id: int, as_json: JsonOption = False, now: NowOption = None, by: ReaderOption = None
) -> None:
    """Alles over één taak: velden, waarom (regels), pauzes door crises, geschiedenis."""
    moment = now_from(now)
    with app_context() as ctx:
        t = queries.task_detail(ctx, now=moment, task_id=task_id, actor=reader(ctx, by))
    if as_json:
        print_json(item_json(moment, t))
        return
    fields = _table(f"Taak {t.id}: {t.title}", "veld", "waarde")
    for name, value in (
        ("programma", f"{t.programme} ({t.municipality})"),
        ("thema", f"{t.theme_code} — {t.theme_name}"),
        ("activiteit", t.activity),
        ("status", t.status_label),
        ("klasse", f"{t.tier} ({t.tier_label})"),
        ("wettelijk", f"ja, {t.legal_basis}" if t.statutory else "nee"),
        ("deadline", _day(t.due_date)),
        ("gepland", _day(t.planned_due)),
        ("uren", f"{t.effort_hours:g}"),
        ("eigenaar", _who(t.owner)),
        ("achtervang", _who(t.backup)),
        ("verantwoordelijk", _who(t.responsible) + (" (overgedragen)" if t.handed_over else "")),
        ("termijnagenda", f"{t.council_item} — {t.council_subject}" if t.council_item else "-"),
        ("signalen", ", ".join(FLAGS.get(f, f) for f in t.flags) or "-"),
        ("toelichting", t.note or "-"),
        (
            "status gewijzigd",
            f"{_when(t.status_changed_at)} door {_who(t.status_changed_by)}"
            if t.status_changed_at
            else "-",
        ),
    ):
        fields.add_row(name, value)
    console.print(fields)
    steps = _table("Waarom (regels)", "tabel", "regel", "reden")
    for s in t.steps:
        steps.add_row(s.table, s.rule_id, s.reason)
    console.print(steps if t.steps else "Geen regel paste: standaardklasse.")
    if t.pauses:
        pauses = _table("Stilgelegd door crises", "crisis", "sinds", "tot en met")
        for p in t.pauses:
            pauses.add_row(
                f"crisis {p.crisis_id} — {p.crisis_title}",
                _day(p.since),
                _day(p.until) if p.until else "loopt nog",
            )
        console.print(pauses)
    else:
        console.print("Nooit stilgelegd door een crisis.")
    console.print(_log_table(f"Geschiedenis ({len(t.history)})", t.history, with_object=False))


# --- people, themes, termijnagenda -----------------------------------------------------------


def people(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Medewerkers per gemeente: rol, uren, nu afwezig, nu in crisisdienst."""
    moment = now_from(now)
    with app_context() as ctx:
        rows = queries.people(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = _table(
        f"{len(rows)} medewerkers",
        "gemeente",
        "naam",
        "e-mail",
        "rol",
        "uren",
        "afwezig",
        "crisisdienst",
    )
    for p in rows:
        table.add_row(
            p.municipality,
            p.name,
            p.email,
            p.role,
            f"{p.hours_per_week:g}",
            _yes(p.absent_now),
            _yes(p.on_crisis_duty),
        )
    console.print(table)


def themes(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Thema's: portefeuillehouders, eigenaar/achtervang, open, te laat en stilgelegd werk."""
    moment = now_from(now)
    with app_context() as ctx:
        rows = queries.themes(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = _table(
        f"{len(rows)} thema's",
        "gemeente",
        "code",
        "naam",
        "portefeuillehouders",
        "eigenaar",
        "achtervang",
        "open",
        "te laat",
        "stilgelegd",
    )
    for t in rows:
        table.add_row(
            t.municipality,
            t.code,
            t.name,
            ", ".join(t.holders),
            t.owner.name,
            t.backup.name,
            str(t.open),
            str(t.late),
            str(t.paused),
        )
    console.print(table)


def termijnagenda(
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """De termijnagenda: raadsstukken, commissiedatum, aanleverdatum, dagen over, in gevaar."""
    moment = now_from(now)
    with app_context() as ctx:
        rows = queries.council_agenda(
            ctx, now=moment, municipality=municipality, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(list_json(moment, municipality, rows))
        return
    table = _table(
        f"Termijnagenda: {len(rows)} punten",
        "gemeente",
        "code",
        "onderwerp",
        "portefeuillehouder",
        "commissie",
        "aanleveren",
        "dagen",
        "in gevaar",
    )
    for i in rows:
        table.add_row(
            i.municipality,
            i.code,
            i.subject,
            i.holder,
            f"{i.committee} {_day(i.committee_date)}",
            _day(i.submission_deadline),
            str(i.days_left),
            "[red]ja[/]" if i.at_risk else "nee",
        )
    console.print(table)


# --- log -------------------------------------------------------------------------------------


def _log_table(title: str, rows: Any, *, with_object: bool = True) -> Table:
    columns = [
        "id",
        "wanneer",
        "wie",
        "wat",
        *(["object"] if with_object else []),
        "vóór → na",
        "waarom",
    ]
    table = _table(title, *columns)
    for e in rows:
        cells = [
            str(e.id),
            _when(e.at),
            e.actor.name,
            e.action,
            *([e.object_label] if with_object else []),
            _change(e),
            _why(e),
        ]
        table.add_row(*cells)
    return table


def show_log(
    task: Annotated[int | None, typer.Option(help="Alleen deze taak.")] = None,
    action: Annotated[str | None, typer.Option(help="Soort, bv. task. of crisis.")] = None,
    person: Annotated[
        str | None, typer.Option(help="Door of over deze persoon (e-mail of id).")
    ] = None,
    crisis: Annotated[
        int | None, typer.Option(help="Deze crisis en de taken die zij stillegde.")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Vanaf datum (JJJJ-MM-DD).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Tot en met datum (JJJJ-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Regels per pagina.")] = 50,
    page: Annotated[int, typer.Option(min=1, help="Pagina (1 = de nieuwste).")] = 1,
    municipality: MunicipalityOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    by: ReaderOption = None,
) -> None:
    """Het auditspoor: wanneer (lokale tijd), wie, wat, vóór → na, en waarom; per pagina."""
    moment = now_from(now)
    filters = queries.LogFilter(
        task=task,
        action=action,
        person=person,
        crisis=crisis,
        start=parse_day(from_, "--from") if from_ else None,
        end=parse_day(to, "--to") if to else None,
        municipality=municipality,
        limit=limit,
        page=page,
    )
    with app_context() as ctx:
        result = queries.audit_log(
            ctx, now=moment, filters=filters, actor=reader(ctx, by, municipality)
        )
    if as_json:
        print_json(
            list_json(
                moment,
                municipality,
                result.items,
                total=result.total,
                page=result.page,
                pages=result.pages,
                limit=result.limit,
            )
        )
        return
    console.print(
        _log_table(
            f"Auditspoor: pagina {result.page} van {result.pages} ({result.total} regels)",
            result.items,
        )
    )
    if result.page < result.pages:
        console.print(f"Eerdere regels: --page {result.page + 1}.")


def register(app: typer.Typer) -> None:
    """Add the read commands to the main app and to its crisis/absence/task groups."""
    task_app = next(g.typer_instance for g in app.registered_groups if g.name == "task")
    crisis_app.command("list")(friendly_errors(crisis_list))
    crisis_app.command("show")(friendly_errors(crisis_show))
    absence_app.command("list")(friendly_errors(absence_list))
    task_app.command("show")(friendly_errors(task_show))
    app.command("people")(friendly_errors(people))
    app.command("themes")(friendly_errors(themes))
    app.command("termijnagenda")(friendly_errors(termijnagenda))
    app.command("log")(friendly_errors(show_log))
