"""The scheduled jobs, declared once: the CLI (`run`), APScheduler (`serve`) and Prefect flows
all use this list and these functions."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date, local_datetime
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.dispatch import DispatchReport, dispatch
from veiligheid_flow.mail.models import JobRun
from veiligheid_flow.mail.transport import make_transport
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.workdays import WorkCalendar

Composer = Callable[[Session, datetime, RuleBook, date], list[compose.Draft]]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    weekly: bool  # weekly on the digest weekday, else every working day
    compose: Composer


JOBS: tuple[Job, ...] = (
    Job(
        "reminders",
        "Herinneringen aan verantwoordelijken",
        False,
        lambda s, now, book, since: compose.reminders(s, now=now, book=book, since=since),
    ),
    Job(
        "overdue",
        "Te late taken en escalatie naar de achtervang",
        False,
        lambda s, now, book, since: compose.overdue(s, now=now, book=book, since=since),
    ),
    Job(
        "council_alerts",
        "Signalen vóór aanleverdata van de termijnagenda",
        False,
        lambda s, now, book, since: compose.council_alerts(s, now=now, book=book, since=since),
    ),
    Job(
        "weekly_digest",
        "Weekoverzicht per portefeuillehouder",
        True,
        lambda s, now, book, since: compose.digests(s, now=now),
    ),
)
JOBS_BY_NAME = {job.name: job for job in JOBS}
DISPATCH_CRON = "*/5 * * * *"  # the outbox is also dispatched on its own, every five minutes


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron(job: Job, app: App) -> str:
    """The job's schedule as a crontab line in Europe/Amsterdam.

    Weekdays are written as names: APScheduler 3 reads crontab day numbers with Monday = 0,
    standard cron (and Prefect) with Sunday = 0; names mean the same to both.
    """
    t = app.settings.send_time
    days = WEEKDAYS[app.settings.digest_weekday] if job.weekly else "mon-fri"
    return f"{t.minute} {t.hour} * * {days}"


def current_slot(job: Job, app: App, now: datetime, calendar: WorkCalendar) -> date | None:
    """The send slot (a local date) that is due at `now`, or None."""
    local = local_datetime(now)
    today = local.date()
    if job.weekly:
        slot = today - timedelta(days=(today.weekday() - app.settings.digest_weekday) % 7)
    else:
        if not calendar.is_working_day(today):
            return None
        slot = today
    if slot == today and local.time() < app.settings.send_time:
        return None
    return slot


@dataclass
class JobResult:
    job: str
    slot: date | None
    enqueued: int


def run_job(app: App, job: Job, *, now: datetime, book: RuleBook | None = None) -> JobResult:
    """Run one job for its due slot, once: decisions, messages and the slot in one transaction."""
    book = book or app.rulebook()
    try:
        return _run_slot(app, job, now, book)
    except IntegrityError:
        # Another runner covered this slot at the same moment (same JobRun row or outbox key):
        # its transaction won, ours rolled back whole. Nothing is lost or sent twice. Any other
        # integrity error is a fault, not a race: raised.
        if not _covered(app, job, now):
            raise
        return JobResult(job.name, None, 0)


def _covered(app: App, job: Job, now: datetime) -> bool:
    with app.sessions() as session:
        slot = current_slot(job, app, now, municipal_calendar(session))
        last = session.get(JobRun, job.name)
        return slot is not None and last is not None and last.last_slot >= slot.isoformat()


def _run_slot(app: App, job: Job, now: datetime, book: RuleBook) -> JobResult:
    with app.unit_of_work() as session:
        slot = current_slot(job, app, now, municipal_calendar(session))
        if slot is None:
            return JobResult(job.name, None, 0)
        last = session.get(JobRun, job.name, with_for_update=True)
        if last is not None and last.last_slot >= slot.isoformat():
            return JobResult(job.name, None, 0)
        # Catch up once: everything since the last covered slot (or since yesterday).
        since = date.fromisoformat(last.last_slot) if last else local_date(now) - timedelta(days=1)
        rules_service.evaluate(session=session, now=now, book=book)
        count = compose.enqueue(session, job.compose(session, now, book, since), now=now)
        if last is None:
            session.add(JobRun(job=job.name, last_slot=slot.isoformat(), ran_at=now))
        else:
            last.last_slot, last.ran_at = slot.isoformat(), now
    return JobResult(job.name, slot, count)


def dispatch_outbox(app: App, *, now: datetime, worker: str | None = None) -> DispatchReport:
    return dispatch(
        app.sessions,
        make_transport(app.settings),
        now=now,
        worker=worker or f"{socket.gethostname()}:{os.getpid()}",
        max_attempts=app.settings.max_send_attempts,
    )


def run_due(app: App, *, now: datetime) -> tuple[list[JobResult], DispatchReport]:
    """Every job that is due at `now`, once, then the outbox."""
    book = app.rulebook()
    results = [run_job(app, job, now=now, book=book) for job in JOBS]
    return results, dispatch_outbox(app, now=now)
