"""Reads of the crisis desk: who may open it, and what a crisis preview (a dry run) means in
names and titles: the paused work grouped by title, who takes over from whom, the council
deadlines at risk. Set-based, ids in chunks."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.reading import read_only
from veiligheid_flow.app.views import Impact
from veiligheid_flow.authority import Actor, Role
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import Refused
from veiligheid_flow.programme.models import (
    CouncilItem,
    Person,
)
from veiligheid_flow.tasks.models import Task

CHUNK = 5000  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits
AT_RISK = cast(Task.flags, String).like('%"council_at_risk"%')


def crisis_municipalities(actor: Actor) -> tuple[str, ...]:
    """Where `actor` is crisis authority (the mayor, or a delegate in `roles`)."""
    return tuple(sorted(c for c in actor.municipalities if actor.has(Role.CRISIS, c)))


def require_crisis_authority(actor: Actor) -> tuple[str, ...]:
    codes = crisis_municipalities(actor)
    if not codes:
        raise Refused(
            f"Alleen de burgemeester of een gemandateerde mag crises vastleggen, bijwerken of "
            f"beëindigen; {actor.label} is dat niet."
        )
    return codes


@dataclass(frozen=True)
class TitleCount:
    title: str
    count: int


@dataclass(frozen=True)
class Takeover:
    """Tasks that go from one person to another (the backup, mostly)."""

    to: str
    from_: str
    count: int
    tasks: tuple[TitleCount, ...]


@dataclass(frozen=True)
class RiskItem:
    subject: str
    submission_deadline: date
    committee: str
    committee_date: date
    tasks: int


@dataclass(frozen=True)
class Preview:
    """What a crisis command (a dry run, or done) changes, in titles and names."""

    changed: int
    paused: int
    paused_titles: tuple[TitleCount, ...]  # grouped by title, most first
    resumed: int
    resumed_titles: tuple[TitleCount, ...]
    handed_over: int
    takeovers: tuple[Takeover, ...]
    new_due_date: int
    council: tuple[RiskItem, ...]
    municipalities: tuple[str, ...]


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    chosen = sorted(set(ids))
    for start in range(0, len(chosen), CHUNK):
        yield chosen[start : start + CHUNK]


def _title_counts(session: Session, ids: list[int]) -> tuple[TitleCount, ...]:
    counts: Counter[str] = Counter()
    for chunk in _chunks(ids):
        for title, n in session.execute(
            select(Task.title, func.count()).where(Task.id.in_(chunk)).group_by(Task.title)
        ):
            counts[title] += n
    return tuple(TitleCount(t, n) for t, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


def preview(app: App, impact: Impact) -> Preview:
    """The Impact of a crisis command in titles and names: which tasks pause or resume
    (grouped by title), who takes over what, which council items come at risk."""
    kinds: dict[str, list[Any]] = defaultdict(list)
    for change in impact.changes:
        if change.after.get("paused") is True:
            kinds["paused"].append(change)
        if change.after.get("paused") is False:
            kinds["resumed"].append(change)
        if "responsible_id" in change.after:
            kinds["handed_over"].append(change)
        if "due_date" in change.after:
            kinds["new_due_date"].append(change)
        if "council_at_risk" in (change.after.get("flags") or []):
            kinds["council"].append(change)
    with read_only(app) as session:
        return Preview(
            changed=len(impact.changes),
            paused=len(kinds["paused"]),
            paused_titles=_title_counts(session, [c.task_id for c in kinds["paused"]]),
            resumed=len(kinds["resumed"]),
            resumed_titles=_title_counts(session, [c.task_id for c in kinds["resumed"]]),
            handed_over=len(kinds["handed_over"]),
            takeovers=_takeovers(session, kinds["handed_over"]),
            new_due_date=len(kinds["new_due_date"]),
            council=_risks(session, [c.task_id for c in kinds["council"]]),
            municipalities=impact.municipalities,
        )


def _takeovers(session: Session, changes: list[Any]) -> tuple[Takeover, ...]:
    people = {c.before.get("responsible_id") for c in changes} | {
        c.after.get("responsible_id") for c in changes
    }
    names = dict(
        session.execute(select(Person.id, Person.name).where(Person.id.in_(people - {None}))).all()
    )
    titles: dict[int, str] = {}
    for chunk in _chunks(c.task_id for c in changes):
        titles.update(session.execute(select(Task.id, Task.title).where(Task.id.in_(chunk))).all())
    pairs: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for c in changes:
        to = names.get(c.after.get("responsible_id"), "onbekend")
        from_ = names.get(c.before.get("responsible_id"), "onbekend")
        pairs[(to, from_)][titles.get(c.task_id, f"taak {c.task_id}")] += 1
    return tuple(
        Takeover(
            to=to,
            from_=from_,
            count=sum(found.values()),
            tasks=tuple(TitleCount(t, n) for t, n in sorted(found.items())),
        )
        for (to, from_), found in sorted(pairs.items())
    )


def _risks(session: Session, ids: list[int]) -> tuple[RiskItem, ...]:
    counts: Counter[int] = Counter()
    for chunk in _chunks(ids):
        for item_id, n in session.execute(
            select(Task.council_item_id, func.count())
            .where(Task.id.in_(chunk), Task.council_item_id.is_not(None))
            .group_by(Task.council_item_id)
        ):
            counts[item_id] += n
    items = session.scalars(
        select(CouncilItem)
        .where(CouncilItem.id.in_(list(counts)))
        .order_by(CouncilItem.submission_deadline, CouncilItem.id)
    )
    return tuple(
        RiskItem(i.subject, i.submission_deadline, i.committee, i.committee_date, counts[i.id])
        for i in items
    )
