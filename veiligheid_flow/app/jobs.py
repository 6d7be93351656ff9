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
from veiligheid_flow.mail.site import Site
from veiligheid_flow.mail.transport import make_transport
from veiligheid_flow.ops import alerts, failures, retention
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.workdays import WorkCalendar

Composer = Callable[[Session, datetime, RuleBook, date, Site], list[compose.Draft]]
# What a job sends instead on a fresh start (its first run, or after a long stop).
FreshComposer = Callable[[Session, datetime, RuleBook, Site], list[compose.Draft]]
FRESH_AFTER_WORKING_DAYS = 5  # a stop longer than a working week is a fresh start
# A job that changes data instead of composing mail: (session, now, app) -> rows changed.
Applier = Callable[[Session, datetime, App], int]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    weekly: bool  # weekly on the digest weekday, else every working day
    compose: Composer | None = None
    apply: Applier | None = None
    fresh: FreshComposer | None = None


JOBS: tuple[Job, ...] = (
    Job(
        "reminders",
        "Herinneringen aan verantwoordelijken",
        False,
        lambda s, now, book, since, site: compose.reminders(
            s, now=now, book=book, since=since, site=site
        ),
    ),
    Job(
        "overdue",
        "Te late taken en escalatie naar de achtervang",
        False,
        lambda s, now, book, since, site: compose.overdue(
            s, now=now, book=book, since=since, site=site
        ),
        # History is not news: the first run (or the first after a long stop) sends each
        # person one summary of their work; escalations are mailed from then on.
        fresh=lambda s, now, book, site: compose.start_summaries(
            s, now=now, book=book, site=site
        ),
    ),
    Job(
        "council_alerts",
        "Signalen vóór aanleverdata van de termijnagenda",
        False,
        lambda s, now, book, since, site: compose.council_alerts(
            s, now=now, book=book, since=since, site=site
        ),
    ),
    Job(
        "weekly_digest",
        "Weekoverzicht per portefeuillehouder",
        True,
        lambda s, now, book, since, site: compose.digests(s, now=now, book=book, site=site),
    ),
    Job(
        "retention",
        "Bewaartermijnen: mailinhoud en gegevens van vertrokken medewerkers",
        False,
        apply=lambda s, now, app: retention.apply(s, now=now, settings=app.settings),
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
    slot: date | None  # the slot this run covered; None: not due, covered before, or failed
    enqueued: int
    error: str | None = None  # one line, when the job failed (see run_job_safely)
    applied: int = 0  # rows an `apply` job changed


def run_job(app: App, job: Job, *, now: datetime, book: RuleBook | None = None) -> JobResult:
    """Run one job for its due slot, once: decisions, messages and the slot in one transaction."""
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


def _run_slot(app: App, job: Job, now: datetime, book: RuleBook | None) -> JobResult:
    with app.unit_of_work() as session:
        slot = current_slot(job, app, now, municipal_calendar(session))
        if slot is None:
            return JobResult(job.name, None, 0)
        last = session.get(JobRun, job.name, with_for_update=True)
        if last is not None and last.last_slot >= slot.isoformat():
            return JobResult(job.name, None, 0)
        # Catch up once: everything since the last covered slot (or since yesterday).
        since = date.fromisoformat(last.last_slot) if last else local_date(now) - timedelta(days=1)
        count = applied = 0
        if job.compose is not None:
            book = book or app.rulebook()
            rules_service.evaluate(session=session, now=now, book=book)
            calendar = municipal_calendar(session)
            stop = calendar.working_days_between(since, slot) if last else None
            if job.fresh is not None and (stop is None or stop > FRESH_AFTER_WORKING_DAYS):
                drafts = job.fresh(session, now, book, app.site)
            else:
                drafts = job.compose(session, now, book, since, app.site)
            count = compose.enqueue(session, drafts, now=now, domain=app.settings.mail_domain)
        if job.apply is not None:
            applied = job.apply(session, now, app)
        if last is None:
            session.add(JobRun(job=job.name, last_slot=slot.isoformat(), ran_at=now))
        else:
            last.last_slot, last.ran_at = slot.isoformat(), now
    return JobResult(job.name, slot, count, applied=applied)


def run_job_safely(
    app: App, job: Job, *, now: datetime, book: RuleBook | None = None
) -> JobResult:
    """run_job in its own unit of work; a failure is rolled back, recorded (job, slot, one
    line, when) and returned instead of raised, so the other jobs and the dispatch still run."""
    try:
        return run_job(app, job, now=now, book=book)
    except Exception as exc:  # noqa: BLE001 - any fault of one job must not stop the others
        return JobResult(job.name, None, 0, error=record_failure(app, job, now, exc))


def record_failure(app: App, job: Job, now: datetime, exc: BaseException) -> str:
    """Store that `job` failed at `now` (in its own transaction); returns the one line."""
    return failures.record(app.sessions, job.name, _slot_of(app, job, now), now, exc)


def _slot_of(app: App, job: Job, now: datetime) -> str | None:
    try:
        with app.sessions() as session:
            slot = current_slot(job, app, now, municipal_calendar(session))
    except Exception:  # noqa: BLE001 - the database may be what failed
        return None
    return slot.isoformat() if slot else None


ADMIN_ALERTS = "admin_alerts"  # the part of the dispatch that alerts the administrators
DISPATCH = "dispatch"


def dispatch_outbox(app: App, *, now: datetime, worker: str | None = None) -> DispatchReport:
    """Send what is due; then, with ADMIN_EMAILS set, alert the administrators once about each
    new problem (failed, uncertain, stalled mail, a failed job) and send that alert at once."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    report = _dispatch(app, now, worker)
    if app.settings.admin_emails and _alert_admins(app, now):
        more = _dispatch(app, now, worker)
        report.sent += more.sent
        report.retried += more.retried
        report.failed += more.failed
        report.uncertain += more.uncertain
        report.recovered.update(more.recovered)
    return report


def _dispatch(app: App, now: datetime, worker: str) -> DispatchReport:
    return dispatch(
        app.sessions,
        make_transport(app.settings),
        now=now,
        worker=worker,
        max_attempts=app.settings.max_send_attempts,
    )


def _alert_admins(app: App, now: datetime) -> int:
    """Enqueue the alert; a failure is recorded like a job's, never raised (the mail that was
    just sent is not undone by it)."""
    try:
        return alerts.alert_admins(app.sessions, app.settings, now=now)
    except Exception as exc:  # noqa: BLE001 - see docstring
        failures.record(app.sessions, ADMIN_ALERTS, local_date(now).isoformat(), now, exc)
        return 0


def run_due(app: App, *, now: datetime) -> tuple[list[JobResult], DispatchReport]:
    """Every job that is due at `now`, once, each in its own unit of work, then the outbox.

    A failed job is recorded and reported in its JobResult (`error`); the others and the
    dispatch still run. A failed dispatch is reported as a JobResult named "dispatch"."""
    results = [run_job_safely(app, job, now=now) for job in JOBS]
    try:
        report = dispatch_outbox(app, now=now)
    except Exception as exc:  # noqa: BLE001 - reported like a job, see docstring
        line = failures.record(app.sessions, DISPATCH, local_date(now).isoformat(), now, exc)
        results.append(JobResult(DISPATCH, None, 0, error=line))
        report = DispatchReport()
    return results, report
