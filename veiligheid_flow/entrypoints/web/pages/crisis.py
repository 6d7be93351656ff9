"""Crisis: for the crisis authority only (the mayor and the delegates in `roles`). Declare a
crisis after a preview (a dry run of the command: what pauses, who takes over, which council
items come at risk), change its scope after a preview, end it after a confirmation. Anyone
else gets 403 on every route before any command runs, a dry run included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import commands, queries, queries_crisis
from veiligheid_flow.app.views import MAX_EXPECTED_DAYS, Actor, CrisisView, Impact
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError, Refused

router = APIRouter()
GRIPS = (1, 2, 3, 4)
WHOLE = "gemeente"  # the scope field's value for the whole municipality
CONFIRMED = "ja"
Text = Annotated[str, Form(max_length=400)]
Many = Annotated[list[str], Form(max_length=400)]


def authority(actor: Annotated[Actor, Depends(signed_in)]) -> Actor:
    """The signed-in crisis authority; anyone else is refused (403) here, before any read."""
    queries_crisis.require_crisis_authority(actor)
    return actor


Authority = Annotated[Actor, Depends(authority)]


@dataclass(frozen=True)
class Scope:
    """A declare or update form, checked: what the command gets, and what to carry on."""

    title: str
    grip: int
    days: int | None
    municipality: str
    whole: bool
    themes: tuple[str, ...]
    staff: tuple[str, ...]

    def hidden(self) -> list[tuple[str, str]]:
        """The fields again, for the confirm form of a preview."""
        fields = [("titel", self.title), ("grip", str(self.grip)), ("gemeente", self.municipality)]
        fields.append(("werkdagen", "" if self.days is None else str(self.days)))
        fields.append(("reikwijdte", WHOLE if self.whole else "deel"))
        fields += [("thema", t) for t in self.themes] + [("medewerker", s) for s in self.staff]
        return fields


def _number(text: str, what: str, allowed: range | tuple[int, ...]) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value not in allowed:
        raise DomainError(f"{what} moet een getal van {allowed[0]} tot en met {allowed[-1]} zijn.")
    return value


def _scope(
    actor: Actor,
    *,
    title: str,
    grip: str,
    days: str,
    where: str,
    scope: str,
    themes: Sequence[str],
    staff: Sequence[str],
) -> Scope:
    codes = queries_crisis.crisis_municipalities(actor)
    municipality = where or codes[0]
    if municipality not in codes:
        raise Refused(f"{actor.label} is geen crisisbevoegde van gemeente {municipality}.")
    whole = scope == WHOLE
    if not whole and not themes and not staff:
        raise DomainError("Kies minstens één thema of medewerker, of kies de hele gemeente.")
    return Scope(
        title=title.strip(),
        grip=_number(grip, "Het GRIP-niveau", GRIPS),
        days=_number(days, "De verwachte duur", range(1, MAX_EXPECTED_DAYS + 1))
        if days.strip()
        else None,
        municipality=municipality,
        whole=whole,
        themes=() if whole else tuple(dict.fromkeys(themes)),
        staff=() if whole else tuple(dict.fromkeys(staff)),
    )


@dataclass(frozen=True)
class Form_:
    """The declare form as typed (shown again when it needs correcting)."""

    titel: str
    grip: str
    werkdagen: str
    gemeente: str
    reikwijdte: str
    thema: tuple[str, ...]
    medewerker: tuple[str, ...]

    def scope(self, actor: Actor) -> Scope:
        return _scope(
            actor,
            title=self.titel,
            grip=self.grip,
            days=self.werkdagen,
            where=self.gemeente,
            scope=self.reikwijdte,
            themes=self.thema,
            staff=self.medewerker,
        )


def declare_form(
    titel: Text = "",
    grip: Text = "",
    werkdagen: Text = "",
    gemeente: Text = "",
    reikwijdte: Text = "deel",
    thema: Many = [],  # noqa: B006 - FastAPI copies the default
    medewerker: Many = [],  # noqa: B006
) -> Form_:
    return Form_(titel, grip, werkdagen, gemeente, reikwijdte, tuple(thema), tuple(medewerker))


Typed = Annotated[Form_, Depends(declare_form)]


def _choices(request: Request, actor: Actor) -> dict[str, Any]:
    """What the forms offer: the themes and the staff of the actor's crisis municipalities."""
    w = web(request)
    codes = queries_crisis.crisis_municipalities(actor)
    themes = [t for t in queries.themes(w.app, now=w.now(), actor=actor) if t.municipality in codes]
    people = [p for p in queries.people(w.app, now=w.now(), actor=actor) if p.municipality in codes]
    return {"codes": codes, "themes": themes, "people": people, "grips": GRIPS}


@router.get("/crisis")
def crisis_page(request: Request, actor: Authority) -> Response:
    return _overview(request, actor)


def _overview(
    request: Request, actor: Actor, *, typed: Form_ | None = None, problem: str | None = None
) -> Response:
    w = web(request)
    found = queries.crises(w.app, now=w.now(), actor=actor)
    done = {k: request.query_params.get(k) for k in ("vastgelegd", "bijgewerkt", "beeindigd")}
    return page(
        request,
        "crisis.html",
        actor,
        status=400 if problem else 200,
        active_crises=[c for c in found if c.active],
        earlier=[c for c in found if not c.active],
        done=done,
        typed=typed,
        problem=problem,
        max_days=MAX_EXPECTED_DAYS,
        active="crisis",
        title="Crisis",
        **_choices(request, actor),
    )


def _declare(request: Request, actor: Actor, scope: Scope, *, dry_run: bool) -> Impact:
    w = web(request)
    return commands.declare_crisis(
        w.app,
        scope.title,
        grip=scope.grip,
        by=actor,
        now=w.now(),
        themes=list(scope.themes),
        staff=list(scope.staff),
        expected_days=scope.days,
        municipalities=[scope.municipality],
        dry_run=dry_run,
    )


def _preview_page(
    request: Request,
    actor: Actor,
    scope: Scope,
    impact: Impact,
    *,
    action: str,
    crisis: Any = None,
    problem: str | None = None,
) -> Response:
    return page(
        request,
        "crisis_preview.html",
        actor,
        status=400 if problem else 200,
        scope=scope,
        preview=queries_crisis.preview(web(request).app, impact),
        action=action,
        crisis=crisis,
        problem=problem,
        active="crisis",
        title="Voorbeeld: wat de crisis verandert",
        **_choices(request, actor),
    )


@router.post("/crisis/voorbeeld", dependencies=[Depends(check_csrf)])
def declare_preview(request: Request, actor: Authority, typed: Typed) -> Response:
    try:
        scope = typed.scope(actor)
        impact = _declare(request, actor, scope, dry_run=True)
    except DomainError as exc:  # a wrong field: the form again, as typed, with the reason
        if isinstance(exc, Refused):
            raise
        return _overview(request, actor, typed=typed, problem=str(exc))
    return _preview_page(request, actor, scope, impact, action="/crisis")


def _whole_refused(scope: Scope, confirmed: str, *, already: bool = False) -> str | None:
    """A scope of the whole municipality needs its own explicit confirmation (the CLI's
    --yes); `already`: the crisis covered the whole municipality before."""
    if scope.whole and not already and confirmed != CONFIRMED:
        return (
            f"Deze crisis legt al het geplande werk van gemeente {scope.municipality} stil. "
            "Vink de bevestiging aan om dat te doen; er is niets vastgelegd."
        )
    return None


@router.post("/crisis", dependencies=[Depends(check_csrf)])
def declare(request: Request, actor: Authority, typed: Typed, hele_gemeente: Text = "") -> Response:
    scope = typed.scope(actor)
    problem = _whole_refused(scope, hele_gemeente)
    if problem:
        impact = _declare(request, actor, scope, dry_run=True)
        return _preview_page(request, actor, scope, impact, action="/crisis", problem=problem)
    impact = _declare(request, actor, scope, dry_run=False)
    commands.announce_crisis(impact.subject_id, "declared")
    return RedirectResponse(f"/crisis?vastgelegd={impact.subject_id}", status_code=303)


def _current(request: Request, actor: Actor, crisis_id: int) -> CrisisView:
    w = web(request)
    crisis = queries.crisis(w.app, now=w.now(), crisis_id=crisis_id, actor=actor)
    if not crisis.active:
        raise DomainError(f"Crisis {crisis_id} is al beëindigd.")
    return crisis


@router.post("/crisis/{crisis_id}/bijwerken", dependencies=[Depends(check_csrf)])
def update(
    request: Request,
    crisis_id: int,
    actor: Authority,
    grip: Text = "",
    reikwijdte: Text = "deel",
    thema: Many = [],  # noqa: B006
    medewerker: Many = [],  # noqa: B006
    stap: Text = "voorbeeld",
    hele_gemeente: Text = "",
) -> Response:
    w = web(request)
    crisis = _current(request, actor, crisis_id)
    scope = _scope(
        actor,
        title=crisis.title,
        grip=grip or str(crisis.grip),
        days="",
        where=crisis.municipalities[0] if crisis.municipalities else "",
        scope=reikwijdte,
        themes=thema,
        staff=medewerker,
    )

    def run(dry_run: bool) -> Impact:
        return commands.update_crisis(
            w.app,
            crisis_id,
            by=actor,
            now=w.now(),
            themes=list(scope.themes),
            staff=list(scope.staff),
            grip=scope.grip,
            dry_run=dry_run,
        )

    action = f"/crisis/{crisis_id}/bijwerken"
    already = not crisis.themes and not crisis.staff
    problem = _whole_refused(scope, hele_gemeente, already=already)
    if stap != "bevestigen" or problem:
        problem = problem if stap == "bevestigen" else None
        return _preview_page(
            request, actor, scope, run(True), action=action, crisis=crisis, problem=problem
        )
    run(False)
    commands.announce_crisis(crisis_id, "updated")
    return RedirectResponse(f"/crisis?bijgewerkt={crisis_id}", status_code=303)


@router.post("/crisis/{crisis_id}/beeindigen", dependencies=[Depends(check_csrf)])
def end(request: Request, crisis_id: int, actor: Authority, bevestigd: Text = "") -> Response:
    w = web(request)
    crisis = _current(request, actor, crisis_id)
    if bevestigd != CONFIRMED:
        return page(
            request, "crisis_end.html", actor, crisis=crisis, active="crisis", title="Beëindigen"
        )
    commands.end_crisis(w.app, crisis_id, by=actor, now=w.now())
    commands.announce_crisis(crisis_id, "ended")
    return RedirectResponse(f"/crisis?beeindigd={crisis_id}", status_code=303)
