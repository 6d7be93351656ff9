"""The job schedules are declared once (jobs.py) and mean the same to APScheduler and Prefect."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from apscheduler.triggers.cron import CronTrigger
from cronsim import CronSim

from veiligheid_flow.app.jobs import DISPATCH_CRON, JOBS, cron
from veiligheid_flow.settings import Settings

AMS = ZoneInfo("Europe/Amsterdam")
PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


class _App:  # `cron` reads only the settings
    settings = Settings()


def _apscheduler_fires(crontab: str, start: datetime, count: int) -> list[datetime]:
    trigger = CronTrigger.from_crontab(crontab, timezone=AMS)
    fires, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        fires.append(fire)
        previous, now = fire, fire.replace(second=1)
    return fires


def test_prefect_yaml_uses_the_declared_schedules():
    deployments = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    crons = {
        d["name"].replace("-", "_"): d.get("schedules", [{}])[0].get("cron") for d in deployments
    }
    for job in JOBS:
        assert crons[job.name] == cron(job, _App()), job.name
    assert crons["outbox_dispatch"] == DISPATCH_CRON
    zones = {s["timezone"] for d in deployments for s in d.get("schedules", [])}
    assert zones == {"Europe/Amsterdam"}


def test_daily_jobs_fire_monday_to_friday_at_eight_in_both_schedulers():
    daily = next(job for job in JOBS if not job.weekly)
    crontab = cron(daily, _App())
    start = datetime(2024, 3, 28, 9, 0, tzinfo=AMS)  # Thursday before the spring DST switch

    aps = _apscheduler_fires(crontab, start, 6)
    prefect = [fire for fire, _ in zip(CronSim(crontab, start), range(6), strict=False)]

    assert [f.strftime("%a %H:%M") for f in aps] == [
        "Fri 08:00",
        "Mon 08:00",
        "Tue 08:00",
        "Wed 08:00",
        "Thu 08:00",
        "Fri 08:00",
    ]
    assert [f.isoformat() for f in aps] == [f.isoformat() for f in prefect]
    assert {f.utcoffset().total_seconds() / 3600 for f in aps} == {1.0, 2.0}  # across DST


def test_weekly_digest_fires_on_monday_in_both_schedulers():
    weekly = next(job for job in JOBS if job.weekly)
    crontab = cron(weekly, _App())
    start = datetime(2024, 10, 23, 9, 0, tzinfo=AMS)  # a Wednesday before the autumn switch

    aps = _apscheduler_fires(crontab, start, 2)
    prefect = [fire for fire, _ in zip(CronSim(crontab, start), range(2), strict=False)]

    assert [f.isoformat() for f in aps] == [
        "2024-10-28T08:00:00+01:00",
        "2024-11-04T08:00:00+01:00",
    ]
    assert [f.isoformat() for f in aps] == [f.isoformat() for f in prefect]
