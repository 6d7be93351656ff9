"""Several municipalities in one database: each sees only its own work (and the district themes
it shares in), crises stay in their municipality, and no email carries another's tasks."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_compose import covered_tasks
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.errors import DomainError
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task

DISTRICT_ADVISER = "b.jansen@example.nl"  # OOV2 serves Huizen and Laren


def laren_programme(tmp_path: Path) -> Path:
    """The example, made into Laren's: own people and holders (except the district adviser),
    titles marked 'Laren:', and the district theme ONDERMIJNING shared from Huizen."""
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["municipality"] = "Laren"
    doc["programme"]["code"] = "UPV-LAREN-2023-2024"
    for person in doc["people"]:
        if person["email"] != DISTRICT_ADVISER:
            person["email"] = person["email"].replace("@example.nl", "@laren.example.nl")
    for holder in doc["portfolio_holders"]:
        holder["email"] = holder["email"].replace("@example.nl", "@laren.example.nl")
    doc["themes"] = [t for t in doc["themes"] if t["code"] != "ONDERMIJNING"]
    for theme in doc["themes"]:
        for line in theme.get("budget", []):
            line["description"] = f"Laren: {line['description']}"
        for activity in theme["activities"]:
            activity["title"] = f"Laren: {activity['title']}"
    for item in doc["council_items"]:
        item["subject"] = f"Laren: {item['subject']}"
    doc["shared_themes"] = [
        {"programme": "UPV-2023-2024", "theme": "ONDERMIJNING", "holders": ["BM"]}
    ]
    path = tmp_path / "programma-laren.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def region(app: App, tmp_path: Path) -> App:
    now = at("2023-03-01T09:00")
    commands.load(app, EXAMPLE, now=now, by=SYSTEM)
    commands.load(app, laren_programme(tmp_path), now=now, by=SYSTEM)
    return app


def municipalities_of(session, email: str) -> set[str]:  # type: ignore[no-untyped-def]
    """Where someone works or holds a portfolio."""
    codes = set()
    for model in (Person, PortfolioHolder):
        codes |= set(
            session.scalars(
                select(Programme.municipality_code)
                .join(model, model.programme_id == Programme.id)
                .where(model.email == email)
            )
        )
    return codes


def test_listings_show_a_municipality_its_own_work_and_the_shared_district_theme(
    region: App,
) -> None:
    with region.sessions() as session:
        laren = task_service.list_tasks(
            session=session, filters=task_service.TaskFilter(municipality="laren")
        )
        huizen = task_service.list_tasks(
            session=session, filters=task_service.TaskFilter(municipality="huizen")
        )
        everything = task_service.list_tasks(session=session)
        themes = {(t.programme.municipality_code, t.theme.code) for t in laren}
    assert ("huizen", "ONDERMIJNING") in themes  # shared in
    assert {m for m, code in themes if code != "ONDERMIJNING"} == {"laren"}
    assert not any(t.title.startswith("Laren:") for t in huizen)
    assert len(laren) + len(huizen) > len(everything)  # the shared tasks count for both
    assert {t.id for t in laren} | {t.id for t in huizen} == {t.id for t in everything}


def test_cli_listing_filters_by_municipality_and_refuses_an_unknown_one(region: App) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["tasks", "--municipality", "laren", "--json", "--now", "2023-03-01T10:00"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and all(
        r["title"].startswith("Laren:") or r["theme"] == "ONDERMIJNING" for r in rows
    )
    wrong = runner.invoke(cli, ["week", "-g", "blaricum", "--now", "2023-03-01T10:00"])
    assert wrong.exit_code == 1
    assert "onbekende gemeente 'blaricum'" in wrong.output
    assert "huizen, laren" in wrong.output


def test_a_crisis_stays_in_the_municipality_that_declares_it(region: App) -> None:
    with pytest.raises(DomainError, match="meer dan één gemeente"):
        commands.declare_crisis(
            region,
            "Brand",
            grip=2,
            by="BM",
            now=at("2023-03-02T09:00"),
            themes=[],
            staff=[],
            expected_days=5,
        )
    impact = commands.declare_crisis(
        region,
        "Brand",
        grip=2,
        by="m.verbeek@laren.example.nl",
        now=at("2023-03-02T09:00"),
        themes=[],
        staff=[],
        expected_days=5,
    )
    with region.sessions() as session:
        paused = list(session.scalars(select(Task).where(Task.paused.is_(True))))
        assert paused
        assert {t.programme.municipality_code for t in paused} == {"laren"}
    assert {c.task_id for c in impact.changes} >= {t.id for t in paused}


def test_no_email_carries_another_municipalitys_work(region: App) -> None:
    commands.declare_crisis(
        region,
        "Brand",
        grip=2,
        by="m.verbeek@laren.example.nl",
        now=at("2023-03-02T09:00"),
        themes=[],
        staff=["OOV3"],
        expected_days=5,
        municipalities=["laren"],
    )
    day = date(2023, 10, 2)  # a month with council deadlines
    while day < date(2023, 10, 28):
        for job in JOBS:
            run_job(region, job, now=at(f"{day}T08:30"))
        day += timedelta(days=1)
    with region.sessions() as session:
        messages = list(session.scalars(select(OutboxMessage)))
        assert {m.kind for m in messages} >= {"reminder", "digest", "crisis", "council"}
        huizen_titles = {
            t.title
            for t in session.scalars(select(Task))
            if t.programme.municipality_code == "huizen" and t.theme.code != "ONDERMIJNING"
        }
        for message in messages:
            allowed = municipalities_of(session, message.recipient)
            assert set(filter(None, message.municipalities.split(","))) <= allowed | {"huizen"}
            if "huizen" not in allowed:  # a Laren-only reader sees no Huizen work
                text = re.sub(r"Laren: [^\n]*", "", message.text_body)  # (same titles, marked)
                leaked = [title for title in huizen_titles if title in text]
                assert not leaked, (message.key, leaked)
            if "laren" not in allowed:
                assert "Laren:" not in message.text_body, message.key
        # The district adviser serves both: mail about either municipality may reach them.
        assert municipalities_of(session, DISTRICT_ADVISER) == {"huizen", "laren"}
        assert any(m.recipient == DISTRICT_ADVISER for m in messages)


def test_the_laren_mayor_digest_covers_laren_and_the_shared_district_theme(region: App) -> None:
    with region.sessions() as session:
        mayor = session.scalars(
            select(PortfolioHolder).where(PortfolioHolder.email == "m.verbeek@laren.example.nl")
        ).one()
        draft = compose.digest(
            session, now=at("2023-03-06T08:00"), holder=mayor, book=region.rulebook()
        )
    assert "Aanpak ondermijnende criminaliteit" in draft.text  # the shared district theme
    assert draft.municipalities == ("huizen", "laren")
    assert "Laren" in draft.html


def test_sharing_a_theme_that_is_not_loaded_is_refused_and_changes_nothing(
    app: App, tmp_path: Path
) -> None:
    with pytest.raises(DomainError, match="laad eerst dat programma"):
        commands.load(app, laren_programme(tmp_path), now=at("2023-03-01T09:00"), by=SYSTEM)
    with app.sessions() as session:
        assert session.scalars(select(Programme)).all() == []


def test_a_long_crisis_notice_groups_occurrences_and_counts_every_task(region: App) -> None:
    impact = commands.declare_crisis(
        region,
        "Brand",
        grip=3,
        by="m.verbeek@laren.example.nl",
        now=at("2023-03-02T09:00"),
        themes=[],
        staff=[],
        expected_days=5,
    )
    changed = Counter()
    with region.sessions() as session:
        for change in impact.changes:
            task = session.get(Task, change.task_id)
            changed[task.owner.email] += 1
            if "responsible_id" in change.after:  # the backup hears of a hand-over too
                changed[task.backup.email] += 1
        notices = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "crisis")))
    assert notices and any("× " in m.text_body for m in notices)  # occurrences grouped
    for message in notices:
        lines = [line for line in message.text_body.splitlines() if line.startswith("- ")]
        assert len(lines) <= compose.NOTICE_LINES
        assert covered_tasks(message.text_body) == changed[message.recipient], message.text_body
        assert "veiligheid tasks" not in message.text_body  # no shell commands in mail


def test_the_audit_trail_filters_by_municipality(region: App) -> None:
    impact = commands.declare_crisis(
        region,
        "Brand",
        grip=2,
        by="m.verbeek@laren.example.nl",
        now=at("2023-03-02T09:00"),
        themes=[],
        staff=[],
        expected_days=5,
    )
    runner = CliRunner()
    laren, huizen = (
        json.loads(runner.invoke(cli, ["log", "-g", g, "--limit", "9999", "--json"]).output)
        for g in ("laren", "huizen")
    )
    laren, huizen = laren["items"], huizen["items"]
    with region.sessions() as session:
        visible = {
            str(t.id)
            for t in task_service.list_tasks(
                session=session,
                filters=task_service.TaskFilter(municipality="laren", include_closed=True),
            )
        }
    objects = {f"{row['object_type']}:{row['object_id']}" for row in laren}
    assert f"crisis:{impact.subject_id}" in objects
    crises = {r["object_id"] for r in huizen if r["object_type"] == "crisis"}
    assert str(impact.subject_id) not in crises
    laren_tasks = {o.split(":")[1] for o in objects if o.startswith("task:")}
    assert laren_tasks and laren_tasks <= visible  # its own and the shared district tasks
    huizen_tasks = {r["object_id"] for r in huizen if r["object_type"] == "task"}
    assert huizen_tasks and huizen_tasks - visible  # Huizen's own work is not Laren's
    assert not (huizen_tasks - visible) & laren_tasks
