"""A person's mail preferences (Instellingen): their reminder lead within the bounds of the
rules, and whether a portfolio holder wants the weekly digest. One unit of work per change,
audited with who and when; nothing here reads the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from veiligheid_flow.access import service as access
from veiligheid_flow.app.reading import read_only
from veiligheid_flow.audit import service as audit
from veiligheid_flow.authority import Actor, Role, resolve_actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError


@dataclass(frozen=True)
class Preferences:
    email: str
    lead_days: int | None  # the person's own first reminder; None: the rules' leads
    rule_leads: tuple[int, ...]  # the rules' reminder leads, largest first
    min_lead: int
    max_lead: int
    digest: bool  # wants the weekly digest (only holders get one)
    holder: bool  # a portfolio holder somewhere: the digest choice means something
    staff: bool  # staff somewhere: has tasks, so reminders and a calendar

    @property
    def default_lead(self) -> int | None:
        """The rules' first reminder, what a person without a choice gets."""
        return self.rule_leads[0] if self.rule_leads else None

    @property
    def choices(self) -> range:
        return range(self.min_lead, self.max_lead + 1)


def _has(actor: Actor, role: Role) -> bool:
    return any(role in roles for roles in actor.roles.values())


def _view(app: App, session: Session, actor: Actor) -> Preferences:
    settings = app.rulebook().settings
    bounds = settings.reminder_personal_lead_working_days
    row = access.preference(session, actor.email)
    return Preferences(
        email=actor.email,
        lead_days=row.lead_days if row else None,
        rule_leads=tuple(sorted(set(settings.reminder_lead_working_days), reverse=True)),
        min_lead=bounds.min,
        max_lead=bounds.max,
        digest=row.digest if row else True,
        holder=_has(actor, Role.HOLDER),
        staff=_has(actor, Role.STAFF),
    )


def preferences(app: App, *, actor: Actor) -> Preferences:
    """What `actor` chose (or the defaults), with the bounds the rules allow."""
    with read_only(app) as session:
        return _view(app, session, actor)


def set_preferences(
    app: App, *, by: str | Actor, now: datetime, lead_days: int | None, digest: bool
) -> Preferences:
    """Store the person's own choice (`lead_days` None: the rules' leads). A lead outside the
    rules' bounds is refused; a digest choice of someone who holds no portfolio is kept as
    it was (they get no digest)."""
    with app.unit_of_work() as session:
        actor = resolve_actor(session, by)
        if actor.system or not actor.roles:
            raise DomainError("alleen een medewerker of portefeuillehouder heeft instellingen")
        before = _view(app, session, actor)
        if lead_days is not None and lead_days not in before.choices:
            raise DomainError(
                f"Kies een herinnering van {before.min_lead} tot en met {before.max_lead} "
                "werkdagen vooraf, of de standaard."
            )
        wanted = digest if before.holder else before.digest
        if (lead_days, wanted) == (before.lead_days, before.digest):
            return before
        access.set_preference(
            session, actor.email, lead_days=lead_days, digest_wanted=wanted, now=now
        )
        audit.record(
            session=session,
            at=now,
            actor=actor.label,
            action="preference.set",
            object_type="preference",
            object_id=actor.email,
            before={"lead_days": before.lead_days, "digest": before.digest},
            after={"lead_days": lead_days, "digest": wanted},
        )
        return _view(app, session, actor)
