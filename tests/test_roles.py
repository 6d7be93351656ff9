"""Issue 10, points 3 and 4: roles enforced in the commands (each refusal names the role and
changes nothing; each permitted action works; no command reaches another municipality) and
crisis safety (dry run, confirmation for a whole municipality, GRIP required)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from tests.test_hostile_core import run, snapshot
from tests.test_region import laren_programme
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import Person, Programme, Theme
from veiligheid_flow.tasks.models import Task, TaskStatus

NOW = "2023-10-02T09:00"
COORDINATOR, OWNER, AOV = "a.devries@example.nl", "b.jansen@example.nl", "p.vandijk@example.nl"
MAYOR, ALDERMAN = "m.verbeek@example.nl", "h.vermeulen@example.nl"


@pytest.fixture
def huizen(app: App) -> App:
    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by="OOV1")
    return app


@pytest.fixture
def region(huizen: App, tmp_path: Path) -> App:
    commands.load(huizen, laren_programme(tmp_path), now=at("2023-03-01T09:00"), by="OOV1")
    return huizen


def owned_task(app: App, email: str = OWNER, code: str = "huizen") -> int:
    """An open task of `code` whose owner is `email` and whose backup is someone else."""
    with app.sessions() as session:
        return session.scalars(
            select(Task.id)
            .join(Person, Task.owner_id == Person.id)
            .join(Programme, Task.programme_id == Programme.id)
            .where(Person.email == email, Programme.municipality_code == code,
                   Task.status == TaskStatus.OPEN)
            .order_by(Task.id)
        ).first()


def task_of_theme_not_held_by(app: App, holder_key: str) -> int:
    with app.sessions() as session:
        for theme in session.scalars(select(Theme).order_by(Theme.id)):
            if holder_key not in {h.key for h in theme.holders}:
                return session.scalars(
                    select(Task.id).where(Task.theme_id == theme.id).order_by(Task.id)
                ).first()
    raise AssertionError("every theme held by " + holder_key)


def declare(app: App, by: Any, **extra: Any) -> commands.Impact:
    return commands.declare_crisis(
        app, "Brand", grip=2, by=by, now=at(NOW),
        themes=extra.pop("themes", ["VEERKRACHTIGE_WIJKEN"]), staff=[], expected_days=5, **extra,
    )


# --- each refused action: its message, and nothing changed ----------------------------------


REFUSALS: dict[str, tuple[Callable[[App], Any], str]] = {
    "staff done on a task they do not own": (
        lambda a: commands.change_status(
            a, owned_task(a, COORDINATOR), TaskStatus.DONE, by="JGD", now=at(NOW)
        ), "eigenaar, de achtervang of de waarnemer"),
    "holder done on a task": (
        lambda a: commands.change_status(a, owned_task(a), TaskStatus.DONE, by="BM", now=at(NOW)),
        "eigenaar, de achtervang of de waarnemer"),
    "owner cancels": (
        lambda a: commands.change_status(
            a, owned_task(a), TaskStatus.CANCELLED, by=OWNER, now=at(NOW)
        ), "Alleen de coördinator van gemeente huizen mag deze taak laten vervallen"),
    "system changes a task": (
        lambda a: commands.change_status(a, owned_task(a), TaskStatus.DONE, by=SYSTEM, now=at(NOW)),
        "Alleen de coördinator van gemeente huizen"),
    "staff hands over another's task": (
        lambda a: commands.reassign(a, owned_task(a), by="JGD", now=at(NOW), reason=None),
        "eigenaar, de achtervang of de waarnemer"),
    "staff registers an absence": (
        lambda a: commands.add_absence(
            a, "OOV3", start=at(NOW).date(), end=at(NOW).date(), by=OWNER, now=at(NOW), reason=None
        ), "Alleen de coördinator van gemeente huizen mag afwezigheid vastleggen"),
    "staff reloads the programme": (
        lambda a: commands.load(a, EXAMPLE, now=at(NOW), by=OWNER),
        "Alleen de coördinator van gemeente huizen mag het programma"),
    "alderman declares a crisis": (
        lambda a: declare(a, ALDERMAN),
        "Alleen de crisisbevoegde (burgemeester of gemandateerde) van gemeente huizen"),
    "coordinator declares a crisis": (
        lambda a: declare(a, COORDINATOR), "Alleen de crisisbevoegde"),
    "system declares a crisis": (lambda a: declare(a, SYSTEM), "Alleen de crisisbevoegde"),
    "holder of another theme sets a priority": (
        lambda a: commands.set_priority(
            a, task_of_theme_not_held_by(a, "WV"), tier=1, by="WV", reason="x", now=at(NOW)
        ), "Alleen de portefeuillehouder van thema"),
    "staff sets a priority": (
        lambda a: commands.set_priority(
            a, owned_task(a), tier=1, by=OWNER, reason="x", now=at(NOW)
        ),
        "Alleen de portefeuillehouder van gemeente huizen"),
    "holder opens a case": (
        lambda a: commands.open_case(
            a, "huisverbod", event_day=at(NOW).date(), by="BM", now=at(NOW), reference=None,
            extended=False,
        ), "Alleen de medewerker van gemeente huizen mag een wettelijke zaak openen"),
    "'wethouder' names five people": (
        lambda a: declare(a, "wethouder"),
        "'wethouder' noemt meer dan één persoon: bedoelt u Ayse Kaya (a.kaya@example.nl, huizen)"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_each_refused_action_names_the_role_and_changes_nothing(huizen: App, name: str) -> None:
    attempt, message = REFUSALS[name]
    before = snapshot(huizen)
    with pytest.raises(DomainError) as refused:
        attempt(huizen)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert snapshot(huizen) == before


def test_clearing_a_priority_is_for_a_holder_of_the_theme_too(huizen: App) -> None:
    task = task_of_theme_not_held_by(huizen, "WV")
    with huizen.sessions() as session:
        holder = session.get(Task, task).theme.holders[0].email
    commands.set_priority(huizen, task, tier=1, by=holder, reason="eerst", now=at(NOW))
    before = snapshot(huizen)
    with pytest.raises(DomainError, match="Alleen de portefeuillehouder van thema"):
        commands.clear_priority(huizen, task, by="WV", now=at(NOW))
    assert snapshot(huizen) == before
    commands.clear_priority(huizen, task, by=holder, now=at(NOW))


def test_the_first_load_needs_a_coordinator_the_file_names(app: App) -> None:
    before = snapshot(app)
    with pytest.raises(DomainError, match=r"Alleen een coördinator die het bestand zelf noemt "
                                          r"\(Anna de Vries \(a.devries@example.nl\)\)"):
        commands.load(app, EXAMPLE, now=at(NOW), by="b.jansen@example.nl")
    assert snapshot(app) == before
    result = run("load", EXAMPLE, "--by", "b.jansen@example.nl", "--now", NOW)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert snapshot(app) == before


# --- each permitted action works, and the audit trail has the resolved actor ---------------


def test_permitted_actions_work_and_record_the_resolved_actor(huizen: App) -> None:
    mine = owned_task(huizen)
    commands.change_status(huizen, mine, TaskStatus.IN_PROGRESS, by="OOV2", now=at(NOW))
    commands.reassign(huizen, mine, by="OOV2", now=at(NOW), reason="ziek")
    commands.change_status(huizen, mine, TaskStatus.DONE, by="s.bakker@example.nl", now=at(NOW))
    other = owned_task(huizen, "f.elamrani@example.nl")
    commands.change_status(huizen, other, TaskStatus.CANCELLED, by="OOV1", now=at(NOW))
    commands.add_absence(huizen, "OOV3", start=at(NOW).date(), end=at(NOW).date(), by="OOV1",
                         now=at(NOW), reason=None)
    crisis = declare(huizen, "AOV")  # the delegate, for the mayor
    commands.update_crisis(huizen, crisis.subject_id, by="burgemeester", now=at(NOW),
                           themes=None, staff=None, grip=3)
    commands.end_crisis(huizen, crisis.subject_id, by="AOV", now=at("2023-10-03T09:00"))
    commands.load(huizen, EXAMPLE, now=at(NOW), by="OOV1")
    with huizen.sessions() as session:
        actors = dict(session.execute(select(AuditEntry.action, AuditEntry.actor)).all())
    assert actors["task.in_progress"] == OWNER and actors["task.reassign"] == OWNER
    assert actors["task.done"] == "s.bakker@example.nl"  # the backup
    assert actors["task.cancelled"] == COORDINATOR and actors["absence.add"] == COORDINATOR
    assert actors["crisis.declare"] == AOV and actors["crisis.end"] == AOV
    assert actors["crisis.update"] == MAYOR


def test_the_system_may_load(huizen: App) -> None:
    result = commands.load(huizen, EXAMPLE, now=at(NOW), by=SYSTEM)
    assert result.municipality == "huizen"


# --- nobody reaches another municipality ------------------------------------------------------


LAREN_COORDINATOR, LAREN_AOV = "a.devries@laren.example.nl", "p.vandijk@laren.example.nl"
CROSS: dict[str, Callable[[App], Any]] = {
    "task": lambda a: commands.change_status(
        a, owned_task(a, COORDINATOR), TaskStatus.CANCELLED, by=LAREN_COORDINATOR, now=at(NOW)
    ),
    "reassign": lambda a: commands.reassign(
        a, owned_task(a, COORDINATOR), by=LAREN_COORDINATOR, now=at(NOW), reason=None
    ),
    "absence": lambda a: commands.add_absence(
        a, "f.elamrani@example.nl", start=at(NOW).date(), end=at(NOW).date(),
        by=LAREN_COORDINATOR, now=at(NOW), reason=None,
    ),
    "crisis": lambda a: declare(a, LAREN_AOV, municipalities=["huizen"], themes=[]),
    "priority": lambda a: commands.set_priority(
        a, owned_task(a), tier=1, by="m.verbeek@laren.example.nl", reason="x", now=at(NOW)
    ),
    "case": lambda a: commands.open_case(
        a, "huisverbod", event_day=at(NOW).date(), by="s.bakker@laren.example.nl", now=at(NOW),
        reference=None, extended=False, municipality="huizen",
    ),
    "load": lambda a: commands.load(a, EXAMPLE, now=at(NOW), by=LAREN_COORDINATOR),
}


@pytest.mark.parametrize("name", list(CROSS))
def test_every_command_refuses_another_municipality(region: App, name: str) -> None:
    before = snapshot(region)
    with pytest.raises(DomainError, match="huizen"):
        CROSS[name](region)
    assert snapshot(region) == before


def test_a_crisis_of_another_municipality_cannot_be_updated_or_ended(region: App) -> None:
    crisis = declare(region, LAREN_AOV, themes=[])
    before = snapshot(region)
    for attempt in (
        lambda: commands.update_crisis(region, crisis.subject_id, by=AOV, now=at(NOW),
                                       themes=None, staff=None, grip=3),
        lambda: commands.end_crisis(region, crisis.subject_id, by=MAYOR, now=at(NOW)),
    ):
        with pytest.raises(DomainError, match="laren"):
            attempt()
    assert snapshot(region) == before


# --- crisis safety ------------------------------------------------------------------------------


def test_a_dry_run_reports_what_would_happen_and_stores_nothing(huizen: App) -> None:
    before = snapshot(huizen)
    trial = run("crisis", "declare", "Brand", "--grip", "2", "--by", "AOV", "--theme",
                "VEERKRACHTIGE_WIJKEN", "--dry-run", "--now", NOW)
    assert trial.exit_code == 0, trial.output
    assert "Proefdraai: er is niets vastgelegd." in trial.output
    assert snapshot(huizen) == before
    preview = commands.declare_crisis(
        huizen, "Brand", grip=2, by="AOV", now=at(NOW), themes=["VEERKRACHTIGE_WIJKEN"],
        staff=[], expected_days=None, dry_run=True,
    )
    assert snapshot(huizen) == before
    paused = sum(1 for c in preview.changes if c.after.get("paused") is True)
    assert paused > 0 and preview.titles["paused"]
    assert f"{paused} gepauzeerd" in trial.output and preview.titles["paused"][0] in trial.output
    real = commands.declare_crisis(
        huizen, "Brand", grip=2, by="AOV", now=at(NOW), themes=["VEERKRACHTIGE_WIJKEN"],
        staff=[], expected_days=None,
    )
    assert sum(1 for c in real.changes if c.after.get("paused") is True) == paused
    before = snapshot(huizen)
    update = run("crisis", "update", real.subject_id, "--by", "AOV", "--theme", "ONDERMIJNING",
                 "--dry-run", "--now", "2023-10-03T09:00")
    assert update.exit_code == 0, update.output
    assert "Proefdraai: er is niets vastgelegd." in update.output
    assert snapshot(huizen) == before


def test_a_whole_municipality_crisis_needs_yes_without_a_terminal(huizen: App) -> None:
    before = snapshot(huizen)
    refused = run("crisis", "declare", "Stroomstoring", "--grip", "3", "--by", "burgemeester",
                  "--now", NOW)
    assert refused.exit_code == 1, refused.output
    assert "--yes" in refused.output and "Traceback" not in refused.output
    assert snapshot(huizen) == before
    wrong = run("crisis", "declare", "Stroomstoring", "--grip", "3", "--by", "WZ", "--now", NOW)
    assert wrong.exit_code == 1 and "crisisbevoegde" in wrong.output  # the role comes first
    done = run("crisis", "declare", "Stroomstoring", "--grip", "3", "--by", "burgemeester",
               "--yes", "--now", NOW)
    assert done.exit_code == 0, done.output
    with huizen.sessions() as session:
        assert session.scalars(select(Crisis.declared_by)).all() == [MAYOR]


def test_grip_is_required_on_declare(huizen: App) -> None:
    before = snapshot(huizen)
    result = run("crisis", "declare", "Brand", "--by", "AOV", "--theme", "ONDERMIJNING",
                 "--yes", "--now", NOW)
    assert result.exit_code == 2 and "--grip" in result.output
    assert snapshot(huizen) == before


# --- the programme file ---------------------------------------------------------------------------


def test_roles_name_known_people_with_their_position(tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["roles"] = {"coordinators": ["OOV1", "NIEMAND"], "crisis_delegates": ["AOV", "AOV"]}
    path = tmp_path / "rollen.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 1
    assert f"{path}:" in result.output
    assert "roles.coordinators[1]" in result.output and "NIEMAND" in result.output
    assert "roles.crisis_delegates[1]" in result.output
