"""What the read side returns: frozen, plain values (no ORM rows, no session), and their JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from typing import Any

from veiligheid_flow.authority import SYSTEM, Actor
from veiligheid_flow.clock import local_datetime
from veiligheid_flow.crisis.service import MAX_EXPECTED_DAYS
from veiligheid_flow.mail.models import OutboxStatus
from veiligheid_flow.ops import exitcodes
from veiligheid_flow.ops.status import Status
from veiligheid_flow.rules.facts import FACTS, FLAGS
from veiligheid_flow.tasks.models import TaskStatus
from veiligheid_flow.tasks.service import STATUS_LABELS, parse_labelled, parse_status
from veiligheid_flow.tasks.views import TIER_LABELS

# The vocabulary the entry points show and parse: re-exported here so that an entry point
# needs nothing below the application layer.
__all__ = [
    "SYSTEM",
    "Actor",
    "FACTS",
    "FLAGS",
    "MAX_EXPECTED_DAYS",
    "OUTBOX_LABELS",
    "STATUS_LABELS",
    "TIER_LABELS",
    "OutboxStatus",
    "Status",
    "exitcodes",
    "TaskStatus",
    "parse_outbox_status",
    "parse_status",
]

OUTBOX_LABELS = {
    OutboxStatus.PENDING: "wacht",
    OutboxStatus.SENDING: "wordt verstuurd",
    OutboxStatus.SENT: "verstuurd",
    OutboxStatus.FAILED: "mislukt",
    OutboxStatus.UNCERTAIN: "onzeker",
}


def parse_outbox_status(text: str) -> OutboxStatus:
    """An outbox status by its Dutch label ('mislukt', 'wacht') or its value ('failed')."""
    found = parse_labelled(text, OUTBOX_LABELS)
    if found is None:
        known = ", ".join(f"{label} ({status.value})" for status, label in OUTBOX_LABELS.items())
        raise ValueError(f"'{text}' is geen van de outboxstatussen: {known}")
    return found


@dataclass(frozen=True)
class PersonRef:
    name: str  # the address itself when nobody of that address is known (e.g. "regels")
    email: str


@dataclass(frozen=True)
class CrisisView:
    id: int
    title: str
    grip: int
    municipalities: tuple[str, ...]
    themes: tuple[str, ...]
    staff: tuple[PersonRef, ...]
    declared_by: PersonRef
    declared_at: datetime
    expected_end: date
    ended_at: datetime | None
    ended_by: PersonRef | None
    active: bool
    paused_tasks: int  # tasks with an open pause period of this crisis


@dataclass(frozen=True)
class AbsenceView:
    id: int
    person: PersonRef
    start: date
    end: date
    reason: str | None
    created_by: PersonRef
    created_at: datetime
    cancelled: bool
    current: bool  # `now` falls within it and it is not cancelled


@dataclass(frozen=True)
class PauseView:
    crisis_id: int
    crisis_title: str
    since: date
    until: date | None  # open while the crisis pauses the task


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: PersonRef
    action: str
    object_type: str
    object_id: str
    object_label: str  # "taak 12 — <title>", "crisis 3 — <title>"
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class AuditPage:
    items: tuple[AuditView, ...]  # oldest first within the page
    total: int
    page: int
    pages: int
    limit: int


@dataclass(frozen=True)
class StepView:
    table: str
    rule_id: str
    version: int
    reason: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class TaskDetail:
    id: int
    title: str
    programme: str
    municipality: str
    theme_code: str
    theme_name: str
    activity: str
    status: str
    status_label: str  # Dutch, "gepauzeerd" while a crisis pauses it
    paused: bool
    tier: int
    tier_label: str
    statutory: bool
    legal_basis: str | None
    planned_due: date
    due_date: date
    effort_hours: float
    owner: PersonRef
    backup: PersonRef
    responsible: PersonRef
    handed_over: bool
    council_item: str | None
    council_subject: str | None
    flags: tuple[str, ...]
    note: str | None
    status_changed_at: datetime | None
    status_changed_by: PersonRef | None
    steps: tuple[StepView, ...]
    paused_by: tuple[int, ...]
    pauses: tuple[PauseView, ...]
    history: tuple[AuditView, ...]


@dataclass(frozen=True)
class PersonView:
    name: str
    email: str
    municipality: str
    role: str
    hours_per_week: float
    absent_now: bool
    on_crisis_duty: bool


@dataclass(frozen=True)
class ThemeView:
    code: str
    name: str
    municipality: str
    kind: str
    holders: tuple[str, ...]
    owner: PersonRef
    backup: PersonRef
    open: int
    late: int
    paused: int


@dataclass(frozen=True)
class CouncilItemView:
    code: str
    subject: str
    municipality: str
    holder: str
    committee: str
    committee_date: date
    submission_deadline: date
    days_left: int  # calendar days from `now` to the submission deadline (negative: passed)
    at_risk: bool  # an open task of the item carries the rules' council_at_risk signal


@dataclass(frozen=True)
class TaskView:
    """A task in a listing; as JSON exactly the fields of `tasks --json`."""

    rank: int | None
    id: int
    title: str
    theme: str
    status: str
    paused: bool
    tier: int
    tier_label: str
    statutory: bool
    legal_basis: str | None
    due_date: date
    planned_due: date
    effort_hours: float
    owner: str
    backup: str
    responsible: str
    council_item: str | None
    flags: tuple[str, ...]
    reason: str
    note: str | None

    @property
    def status_label(self) -> str:
        """Dutch, "gepauzeerd" while a crisis pauses the open task."""
        status = TaskStatus(self.status)
        if self.paused and status in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS):
            return "gepauzeerd"
        return STATUS_LABELS[status]

    @property
    def stand_in(self) -> str:
        """Who takes over from the responsible person: the backup, or the owner once the task
        is handed over."""
        return self.backup if self.responsible == self.owner else self.owner


@dataclass(frozen=True)
class WeekView:
    monday: date
    tasks: tuple[TaskView, ...]
    # Programmes (shown ones) that ended before today: (code, municipality, start, end).
    ended: tuple[tuple[str, str, date, date], ...] = ()


@dataclass(frozen=True)
class LoadResult:
    programme_code: str
    created: bool
    changed: bool
    counts: Counter[str]  # per kind of change ("task.created"): how many; 0 when absent
    decisions_changed: int
    municipality: str


@dataclass(frozen=True)
class TaskChange:
    """A task after a status change or hand-over."""

    id: int
    status: str
    status_label: str
    handed_over: bool
    responsible: str
    note: str | None


@dataclass(frozen=True)
class ChangeView:
    task_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class Impact:
    """What a rules-changing command did (or with `dry_run` would do) to the tasks."""

    subject_id: int
    changes: tuple[ChangeView, ...]
    dry_run: bool = False
    municipalities: tuple[str, ...] = ()
    # Per kind (paused, handed_over, council_at_risk): the first titles, for a preview.
    titles: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if IMPACT_KINDS[kind](c))


IMPACT_KINDS = {
    "paused": lambda c: c.after.get("paused") is True,
    "resumed": lambda c: c.after.get("paused") is False,
    "handed_over": lambda c: "responsible_id" in c.after,
    "new_due_date": lambda c: "due_date" in c.after,
    "council_at_risk": lambda c: "council_at_risk" in (c.after.get("flags") or []),
}


def impact_json(now: datetime, action: str, impact: Impact, message: str) -> dict[str, Any]:
    """What a rules-changing command reports with --json: {now, item}."""
    item = {
        "action": action,
        "id": impact.subject_id,
        "dry_run": impact.dry_run,
        "changed": len(impact.changes),
        **{kind: impact.count(kind) for kind in IMPACT_KINDS},
        "municipalities": list(impact.municipalities),
        "titles": {k: list(v) for k, v in impact.titles.items()},
        "message": message,
    }
    return item_json(now, item)


@dataclass(frozen=True)
class OutboxItemView:
    id: int
    status: str  # the English value (pending, sent, …); OUTBOX_LABELS has the Dutch
    kind: str
    to: str
    subject: str
    attempts: int
    error: str | None
    key: str
    municipalities: tuple[str, ...]
    message_id: str = ""  # the Message-ID header: what to look for in the mail log
    cc: tuple[str, ...] = ()
    created_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def status_label(self) -> str:
        return OUTBOX_LABELS[OutboxStatus(self.status)]


@dataclass(frozen=True)
class MessageChange:
    """An outbox message after `outbox retry` or `outbox confirm`."""

    id: int
    status: str
    status_label: str
    by: str


@dataclass(frozen=True)
class DraftView:
    subject: str
    text: str
    html: str
    recipient: str


def plain(value: Any) -> Any:
    """A view (or a list of them) as JSON-ready values: ISO dates, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def list_json(now: datetime, municipality: str | None, items: Any, **extra: Any) -> dict[str, Any]:
    """The one shape of a listing: {now, municipality, count, items} (+ paging for the log)."""
    rows = plain(list(items))
    return {
        "now": local_datetime(now).isoformat(),
        "municipality": municipality,
        "count": len(rows),
        **extra,
        "items": rows,
    }


def item_json(now: datetime, item: Any) -> dict[str, Any]:
    """The one shape of a `show`: {now, item}."""
    return {"now": local_datetime(now).isoformat(), "item": plain(item)}
