"""`veiligheid serve`: APScheduler runs the declared jobs on their cron in Europe/Amsterdam,
with coalescing and a misfire grace so a laptop that slept catches up once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from veiligheid_flow.bootstrap import App
from veiligheid_flow.jobs import JOBS, Job, cron, dispatch_outbox, run_job

MISFIRE_GRACE_SECONDS = 12 * 3600


def build_scheduler(
    app: App, clock: Callable[[], datetime], log: Callable[[str], None]
) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=app.settings.timezone)
    defaults = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1}

    def job_runner(job: Job) -> Callable[[], None]:
        def run() -> None:
            now = clock()
            result = run_job(app, job, now=now)
            report = dispatch_outbox(app, now=now)
            log(
                f"{job.name}: {result.enqueued} bericht(en) klaargezet, "
                f"{len(report.sent)} verstuurd"
            )

        return run

    for job in JOBS:
        trigger = CronTrigger.from_crontab(cron(job, app), timezone=app.settings.timezone)
        scheduler.add_job(job_runner(job), trigger, id=job.name, name=job.description, **defaults)

    def dispatch_only() -> None:
        report = dispatch_outbox(app, now=clock())
        if report.sent or report.failed:
            log(f"outbox: {len(report.sent)} verstuurd, {len(report.failed)} mislukt")

    scheduler.add_job(
        dispatch_only,
        CronTrigger.from_crontab("*/5 * * * *", timezone=app.settings.timezone),
        id="dispatch",
        name="Outbox versturen",
        **defaults,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return scheduler


def system_clock() -> datetime:
    """The real clock, used only by the long-running entry point."""
    return datetime.now(UTC)
