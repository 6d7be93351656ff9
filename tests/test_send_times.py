"""Send times in Europe/Amsterdam: the APScheduler triggers of `serve` across the 2024 daylight
saving switches, the send slot `jobs.current_slot` sees, and a missed weekend caught up once.

The trigger tests need no database: `jobs.cron` reads only the settings, and the triggers are
built exactly as `scheduler.build_scheduler` builds them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from tests.conftest import EXAMPLE, at, ics_task_ids
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS, JOBS_BY_NAME, cron, current_slot, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.entrypoints.scheduler import build_scheduler
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

AMS = ZoneInfo("Europe/Amsterdam")
DAILY = [job for job in JOBS if not job.weekly]
WEEKLY = [job for job in JOBS if job.weekly]
# The two 2024 switches (last Sunday of March and of October) with a fortnight around each.
SWITCHES = {
    "spring": (date(2024, 3, 31), date(2024, 3, 25), date(2024, 4, 7), (7, 6)),
    "autumn": (date(2024, 10, 27), date(2024, 10, 21), date(2024, 11, 3), (6, 7)),
}


def settings_only() -> SimpleNamespace:
    """An App-like object: `cron`, `current_slot` and `build_scheduler` read only settings."""
    return SimpleNamespace(
        settings=Settings(
            _env_file=None, send_time=time(8, 0), digest_weekday=0, timezone="Europe/Amsterdam"
        )
    )


def trigger_for(job, app) -> CronTrigger:  # type: ignore[no-untyped-def]
    # As scheduler.build_scheduler does it.
    return CronTrigger.from_crontab(cron(job, app), timezone=app.settings.timezone)


def fire_times(trigger: CronTrigger, first: date, last: date) -> list[datetime]:
    now = datetime.combine(first, time(0), AMS)
    end = datetime.combine(last + timedelta(days=1), time(0), AMS)
    fired: list[datetime] = []
    previous = None
    while (nxt := trigger.get_next_fire_time(previous, now)) is not None and nxt < end:
        fired.append(nxt)
        previous = now = nxt
    return fired


def weekdays(first: date, last: date) -> list[date]:
    days = (first + timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def test_the_scheduler_uses_these_triggers():
    app = settings_only()
    scheduler = build_scheduler(app, lambda name, now: "", lambda: datetime.now(UTC), print)
    for job in JOBS:
        assert str(scheduler.get_job(job.name).trigger) == str(trigger_for(job, app))


@pytest.mark.parametrize("switch", sorted(SWITCHES))
@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_fire_times_stay_at_0800_local_across_dst(job, switch):
    day, first, last, (utc_before, utc_after) = SWITCHES[switch]
    fired = fire_times(trigger_for(job, settings_only()), first, last)

    assert fired
    assert {t.astimezone(AMS).time() for t in fired} == {time(8, 0)}
    for t in fired:
        local = t.astimezone(AMS).date()
        expected = datetime.combine(local, time(8, 0), AMS).astimezone(UTC)
        assert t.astimezone(UTC) == expected
        assert expected.hour == (utc_before if local < day else utc_after)
    assert {t.astimezone(AMS).date() < day for t in fired} == {True, False}  # both sides


@pytest.mark.parametrize("switch", sorted(SWITCHES))
@pytest.mark.parametrize("job", DAILY, ids=lambda job: job.name)
def test_daily_jobs_fire_monday_to_friday(job, switch):
    """APScheduler 3 reads crontab weekday numbers with Monday = 0 (its issue #286), standard
    cron with Sunday = 0: `1-5` would fire Tuesday to Saturday and skip Monday."""
    _, first, last, _ = SWITCHES[switch]
    fired = fire_times(trigger_for(job, settings_only()), first, last)
    # Public holidays are current_slot's business: cron fires, the run finds no slot.
    assert [t.astimezone(AMS).date() for t in fired] == weekdays(first, last)


@pytest.mark.parametrize("job", WEEKLY, ids=lambda job: job.name)
def test_weekly_digest_fires_on_monday(job):
    fired = fire_times(trigger_for(job, settings_only()), date(2024, 3, 18), date(2024, 4, 14))
    assert [t.astimezone(AMS).date() for t in fired] == [
        date(2024, 3, 18),
        date(2024, 3, 25),
        date(2024, 4, 1),
        date(2024, 4, 8),
    ]


# --- current_slot ------------------------------------------------------------------------------

EXTRA_DAYS_OFF = WorkCalendar([date(2023, 12, 27), date(2024, 5, 10), date(2024, 12, 27)])


@pytest.mark.parametrize(
    "now, slot",
    [
        ("2024-03-27T07:59", None),
        ("2024-03-27T08:00", date(2024, 3, 27)),
        ("2024-03-27T23:59", date(2024, 3, 27)),
        # Winter time: 08:00 local is 07:00 UTC; summer time: 06:00 UTC.
        ("2024-03-28T06:59:00+00:00", None),
        ("2024-03-28T07:00:00+00:00", date(2024, 3, 28)),
        ("2024-04-02T05:59:00+00:00", None),
        ("2024-04-02T06:00:00+00:00", date(2024, 4, 2)),
        ("2024-10-25T06:00:00+00:00", date(2024, 10, 25)),
        ("2024-10-28T06:59:00+00:00", None),
        ("2024-10-28T07:00:00+00:00", date(2024, 10, 28)),
        # Late on Monday evening in UTC is Tuesday night locally, before Tuesday's send time.
        ("2024-06-03T22:30:00+00:00", None),
        ("2024-06-04T06:30:00+00:00", date(2024, 6, 4)),
        # No working day, no slot: weekends, public holidays, the programme's days off.
        ("2024-04-27T12:00", None),  # Saturday (and Koningsdag)
        ("2024-04-28T12:00", None),  # Sunday
        ("2024-05-09T12:00", None),  # Hemelvaartsdag
        ("2024-03-29T12:00", None),  # Goede Vrijdag
        ("2024-04-01T12:00", None),  # Tweede paasdag
        ("2024-05-10T12:00", None),  # the example's bridge day
        ("2024-12-27T12:00", None),  # the example's collective day off
        ("2024-05-13T08:00", date(2024, 5, 13)),
    ],
)
@pytest.mark.parametrize("job", DAILY, ids=lambda job: job.name)
def test_current_slot_of_the_daily_jobs(job, now, slot):
    assert current_slot(job, settings_only(), at(now), EXTRA_DAYS_OFF) == slot


def test_the_days_off_come_from_the_programme():
    bridge = at("2024-05-10T12:00")
    assert current_slot(DAILY[0], settings_only(), bridge, WorkCalendar()) == date(2024, 5, 10)
    assert current_slot(DAILY[0], settings_only(), bridge, EXTRA_DAYS_OFF) is None


@pytest.mark.parametrize(
    "now, slot",
    [
        ("2024-03-25T07:59", None),  # Monday before the send time
        ("2024-03-25T08:00", date(2024, 3, 25)),
        ("2024-03-26T09:00", date(2024, 3, 25)),  # Tuesday: that week's Monday
        ("2024-03-31T12:00", date(2024, 3, 25)),  # Sunday, the spring switch
        ("2024-04-02T09:00", date(2024, 4, 1)),  # the Monday is a holiday: still the slot
        ("2024-04-06T12:00", date(2024, 4, 1)),  # Saturday
        ("2024-10-29T06:59:00+00:00", date(2024, 10, 28)),
    ],
)
@pytest.mark.parametrize("job", WEEKLY, ids=lambda job: job.name)
def test_current_slot_of_the_weekly_digest(job, now, slot):
    assert current_slot(job, settings_only(), at(now), EXTRA_DAYS_OFF) == slot


# --- a missed weekend, with the database -------------------------------------------------------

THURSDAY, FRIDAY, MONDAY, TUESDAY = (
    date(2024, 6, 27),
    date(2024, 6, 28),
    date(2024, 7, 1),
    date(2024, 7, 2),
)


def lead_days(cal: WorkCalendar, due: date) -> set[date]:
    """10, 2 and 0 working days before `due` (for 0: `due` or the working day before it)."""
    found = set()
    for n in (10, 2, 0):
        day = due
        while not cal.is_working_day(day):
            day -= timedelta(days=1)
        while n:
            day -= timedelta(days=1)
            n -= cal.is_working_day(day)
        found.add(day)
    return found


def reminders(app) -> dict[str, tuple[str, set[int]]]:  # type: ignore[no-untyped-def]
    with app.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
        return {
            row.key: (row.recipient, ics_task_ids(row.ics))
            for row in rows
        }


def test_a_missed_weekend_is_caught_up_once_on_monday(app):
    """The reminders job ran on Thursday 08:05 and then not until Monday 08:05 (the machine was
    off from Friday): Monday's single email per person also lists the tasks whose lead day was
    Friday, except those due on Friday itself (late now: the overdue notice, never "coming"); a
    second run on Monday at 09:00 adds nothing; Tuesday does not repeat Friday."""
    commands.load(app, EXAMPLE, now=at(f"{THURSDAY}T07:00"), by=SYSTEM)
    job = JOBS_BY_NAME["reminders"]
    with app.sessions() as session:
        cal = municipal_calendar(session)
        leads = {t.id: lead_days(cal, t.due_date) for t in session.scalars(select(Task))}
        owner = {t.id: t.owner.email for t in session.scalars(select(Task))}
        passed = {t.id for t in session.scalars(select(Task)) if t.due_date < MONDAY}
    on = {day: {i for i, days in leads.items() if day in days} for day in (FRIDAY, MONDAY)}
    assert on[FRIDAY] & passed, "the example has a task due on Friday itself"
    assert on[FRIDAY] and on[MONDAY], "the example has lead days on both days"

    assert run_job(app, job, now=at(f"{THURSDAY}T08:05")).slot == THURSDAY
    thursday = reminders(app)
    assert all(key.endswith(f":{THURSDAY}") for key in thursday)

    monday = run_job(app, job, now=at(f"{MONDAY}T08:05"))
    assert monday.slot == MONDAY
    sent = {k: v for k, v in reminders(app).items() if k not in thursday}
    assert monday.enqueued == len(sent)
    assert {k.rsplit(":", 1)[1] for k in sent} == {str(MONDAY)}
    listed = [i for _, ids in sent.values() for i in ids]
    assert len(listed) == len(set(listed)), "a task is listed once"
    assert set(listed) == (on[FRIDAY] | on[MONDAY]) - passed
    # One email per responsible person (nobody is absent, nothing is five days late yet).
    expected = {owner[i] for i in (on[FRIDAY] | on[MONDAY]) - passed}
    assert sorted(r for r, _ in sent.values()) == sorted(expected)
    assert all(ids == {i for i in listed if owner[i] == r} for r, ids in sent.values())

    again = run_job(app, job, now=at(f"{MONDAY}T09:00"))
    assert (again.slot, again.enqueued) == (None, 0)
    assert len(reminders(app)) == len(thursday) + len(sent)

    run_job(app, job, now=at(f"{TUESDAY}T08:05"))
    tuesday = {k: v for k, v in reminders(app).items() if k.endswith(f":{TUESDAY}")}
    on_tuesday = {i for i, days in leads.items() if TUESDAY in days}
    assert {i for _, ids in tuesday.values() for i in ids} == on_tuesday
