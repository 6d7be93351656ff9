"""`veiligheid status`: is the database there and migrated, did every job cover its slot, does
mail flow? Reads only; the exit code says what needs a look (ops/exitcodes.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from veiligheid_flow.app.jobs import ADMIN_ALERTS, DISPATCH, JOBS, Job, current_slot
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import LOCAL_TZ, local_datetime
from veiligheid_flow.db import alembic_config
from veiligheid_flow.mail.models import JobRun, OutboxMessage, OutboxStatus
from veiligheid_flow.ops import exitcodes
from veiligheid_flow.ops.failures import one_line
from veiligheid_flow.ops.models import JobFailure
from veiligheid_flow.ops.queries import Failure, OldestPending, oldest_pending, open_failure
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.settings import Settings
from veiligheid_flow.workdays import WorkCalendar

RECENT = timedelta(hours=24)  # failures of the dispatch or the admin alerts shown this long


def masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@dataclass
class JobState:
    job: str
    last_slot: str | None  # the last slot it covered
    ran_at: datetime | None
    expected_slot: date | None  # the slot it should have covered by now
    failure: Failure | None  # its last attempt failed and that slot is still not covered
    missed: bool


@dataclass
class OutboxHealth:
    counts: dict[str, int]
    oldest_pending: OldestPending | None
    stuck_sending: int  # claimed longer ago than the threshold (a dispatcher stopped)
    threshold_minutes: int

    @property
    def stuck(self) -> bool:
        oldest = self.oldest_pending
        old = oldest is not None and oldest.minutes > self.threshold_minutes
        return old or self.stuck_sending > 0 or self.counts[OutboxStatus.UNCERTAIN.value] > 0


@dataclass
class Status:
    database: str  # the URL, password masked
    error: str | None = None  # unreachable or not migrated: nothing else was read
    revision: str | None = None
    head: str | None = None
    jobs: list[JobState] = field(default_factory=list)
    other_failures: dict[str, Failure] = field(default_factory=dict)  # dispatch, admin alerts
    outbox: OutboxHealth | None = None

    @property
    def exit_code(self) -> int:
        if self.error:
            return exitcodes.INPUT_ERROR
        if any(j.missed or j.failure for j in self.jobs):
            return exitcodes.JOB_FAILED
        if self.outbox is not None and self.outbox.stuck:
            return exitcodes.MAIL_PROBLEM
        return exitcodes.OK

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        if self.outbox is not None:
            data["outbox"]["stuck"] = self.outbox.stuck
        return _iso(data)


def _iso(value: Any) -> Any:
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def check(settings: Settings, *, now: datetime) -> Status:
    """The whole status at `now`. Never migrates: a database behind is reported, not fixed."""
    url = masked_url(settings.database_url)
    parsed = make_url(settings.database_url)
    path = parsed.database or ""
    on_disk = parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:")
    if on_disk and not Path(path).is_file():
        return Status(url, error=f"Database bestaat niet: {path} ({url}).")
    app = bootstrap(settings, migrate=False)
    try:
        try:
            revision, head = revisions(app.engine)
        except DBAPIError as exc:
            return Status(url, error=f"Database niet bereikbaar: {url} ({one_line(exc)}).")
        status = Status(url, revision=revision, head=head)
        if revision != head:
            status.error = (
                f"Database {url} is niet bijgewerkt: versie {revision or 'leeg'}, nieuwste "
                f"{head}; voer 'veiligheid db upgrade' uit."
            )
            return status
        with app.sessions() as session:
            status.jobs = job_states(session, app, now)
            status.other_failures = recent_failures(session, now)
            status.outbox = outbox_health(session, now, settings.status_mail_stuck_minutes)
        return status
    finally:
        app.close()


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(the database's Alembic revision, the newest this code knows)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def expected_slot(job: Job, app: App, now: datetime, calendar: WorkCalendar) -> date | None:
    """The latest slot that was due at or before `now` (today's, or an earlier day's)."""
    local = local_datetime(now)
    for back in range(15):
        probe = (
            local
            if back == 0
            else datetime.combine(local.date() - timedelta(days=back), time(23, 59), LOCAL_TZ)
        )
        slot = current_slot(job, app, probe, calendar)
        if slot is not None:
            return slot
    return None


def job_states(session: Session, app: App, now: datetime) -> list[JobState]:
    calendar = municipal_calendar(session)
    runs = {r.job: r for r in session.scalars(select(JobRun))}
    grace = timedelta(minutes=app.settings.status_job_grace_minutes)
    states = []
    for job in JOBS:
        run = runs.get(job.name)
        expected = expected_slot(job, app, now, calendar)
        behind = expected is not None and (run is None or run.last_slot < expected.isoformat())
        due_at = datetime.combine(expected, app.settings.send_time, LOCAL_TZ) if expected else None
        missed = behind and due_at is not None and now > due_at + grace
        states.append(
            JobState(
                job.name,
                run.last_slot if run else None,
                run.ran_at if run else None,
                expected,
                open_failure(session, job.name),
                missed,
            )
        )
    return states


def recent_failures(session: Session, now: datetime) -> dict[str, Failure]:
    found = {}
    for name in (DISPATCH, ADMIN_ALERTS):
        last = session.scalars(
            select(JobFailure)
            .where(JobFailure.job == name, JobFailure.at > now - RECENT, JobFailure.at <= now)
            .order_by(JobFailure.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            found[name] = Failure(last.job, last.slot, last.at, last.error)
    return found


def outbox_health(session: Session, now: datetime, threshold_minutes: int) -> OutboxHealth:
    counts = {s.value: 0 for s in OutboxStatus}
    for status, count in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[OutboxStatus(status).value] = count
    limit = now - timedelta(minutes=threshold_minutes)
    stuck_sending = session.scalar(
        select(func.count()).where(
            OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < limit
        )
    )
    return OutboxHealth(counts, oldest_pending(session, now), stuck_sending or 0, threshold_minutes)
