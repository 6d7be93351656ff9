"""`veiligheid serve`: APScheduler runs the declared jobs on their cron in Europe/Amsterdam,
with coalescing and a misfire grace so a laptop that slept catches up once.

A runner does the work of one job: directly through the services (the default), or through
the Prefect flows in `flows/` on Prefect's temporary server (`serve --prefect`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from veiligheid_flow.app.jobs import (
    DISPATCH,
    DISPATCH_CRON,
    JOBS,
    JOBS_BY_NAME,
    cron,
    dispatch_outbox,
    run_job_safely,
)
from veiligheid_flow.bootstrap import App

MISFIRE_GRACE_SECONDS = 12 * 3600

Runner = Callable[[str, datetime], str]  # job name (or "dispatch") and moment -> a log line


def direct_runner(app: App) -> Runner:
    def run(name: str, now: datetime) -> str:
        # A failed job is recorded and logged; the dispatch runs all the same.
        result = run_job_safely(app, JOBS_BY_NAME[name], now=now) if name != DISPATCH else None
        report = dispatch_outbox(app, now=now)
        line = (
            f"{name}: {result.enqueued if result else 0} bericht(en) klaargezet, "
            f"{len(report.sent)} verstuurd, {len(report.failed)} mislukt"
        )
        return f"{line}; {result.error}" if result and result.error else line

    return run


def prefect_runner(prefect_home: Path) -> Runner:
    """Run the Prefect flows on Prefect's temporary server (started here, in the main thread:
    its start-up is not thread-safe)."""
    quiet = {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    prefect_home.mkdir(parents=True, exist_ok=True)
    for key, value in quiet.items():
        os.environ.setdefault(key, value)
    from prefect.client.orchestration import get_client

    from flows import veiligheid_flows as flows

    with get_client(sync_client=True) as client:
        client.hello()
    by_name = {
        "reminders": flows.reminders_flow,
        "overdue": flows.overdue_flow,
        "council_alerts": flows.council_alerts_flow,
        "weekly_digest": flows.weekly_digest_flow,
        "retention": flows.retention_flow,
        DISPATCH: flows.outbox_dispatch_flow,
    }

    def run(name: str, now: datetime) -> str:
        return f"{name}: {by_name[name](now=now.isoformat())}"

    return run


def build_scheduler(
    app: App, runner: Runner, clock: Callable[[], datetime], log: Callable[[str], None]
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=app.settings.timezone)
    defaults = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1}

    def job(name: str) -> Callable[[], None]:
        return lambda: log(runner(name, clock()))

    schedules = [(j.name, j.description, cron(j, app)) for j in JOBS]
    schedules.append((DISPATCH, "Outbox versturen", DISPATCH_CRON))
    for name, description, crontab in schedules:
        trigger = CronTrigger.from_crontab(crontab, timezone=app.settings.timezone)
        scheduler.add_job(job(name), trigger, id=name, name=description, **defaults)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return scheduler


def system_clock() -> datetime:
    """The real clock, used only by the long-running entry point."""
    return datetime.now(UTC)
