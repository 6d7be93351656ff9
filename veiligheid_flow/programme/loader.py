"""Read a programme file: YAML → pydantic → cross-checks. Reports every problem at once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from veiligheid_flow.problems import InputInvalid, PathParts, PositionedYaml, Problem
from veiligheid_flow.programme import bounds
from veiligheid_flow.programme.checks import IndexedProgramme, check
from veiligheid_flow.programme.expand import occurrences
from veiligheid_flow.programme.schema import (
    ActivitySpec,
    CouncilItemSpec,
    CouncilMeetingSpec,
    HolderSpec,
    PersonSpec,
    ProgrammeFile,
    ProgrammeSpec,
    RolesSpec,
    SharedThemeSpec,
    ThemeSpec,
)
from veiligheid_flow.workdays import WorkCalendar

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedProgramme:
    spec: ProgrammeFile
    source: str
    digest: str

    @property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.spec.non_working_days)


def read_programme(
    path: Path, *, known_case_types: Collection[str] | None = None
) -> LoadedProgramme:
    """Parse and validate; raise InputInvalid with every problem found."""
    source = PositionedYaml.read(path)
    problems: list[Problem] = source.duplicate_key_problems()
    spec: ProgrammeFile | None = None
    try:
        spec = ProgrammeFile.model_validate(source.data)
    except ValidationError as exc:
        problems += source.validation_problems(exc)
    indexed = _valid_parts(source.data)
    findings = check(indexed, known_case_types)
    if spec is not None:
        findings += _occurrence_problems(spec)
    problems += [source.problem(p, message) for p, message in findings]
    if problems or spec is None:
        raise InputInvalid(sorted(set(problems), key=lambda p: (p.line, p.column, p.path)))
    digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
    return LoadedProgramme(spec=spec, source=source.file, digest=digest)


def _valid_parts(data: Any) -> IndexedProgramme:
    """Validate item by item, so cross-checks still run on the parts that are valid."""
    data = data if isinstance(data, dict) else {}
    doc = IndexedProgramme(programme=_one(ProgrammeSpec, data.get("programme")))
    doc.people = _many(PersonSpec, data.get("people"))
    doc.holders = _many(HolderSpec, data.get("portfolio_holders"))
    doc.meetings = _many(CouncilMeetingSpec, data.get("council_meetings"))
    doc.council_items = _many(CouncilItemSpec, data.get("council_items"))
    doc.shared = _many(SharedThemeSpec, data.get("shared_themes"))
    doc.roles = _one(RolesSpec, data.get("roles") or {})
    doc.person_ids = _raw_ids(data.get("people"), "id")
    doc.holder_ids = _raw_ids(data.get("portfolio_holders"), "id")
    doc.item_codes = _raw_ids(data.get("council_items"), "code")
    for i, raw in enumerate(data.get("themes") or []):
        if not isinstance(raw, dict):
            continue
        theme = _one(ThemeSpec, {**raw, "activities": []})
        if theme is not None:
            doc.themes.append((i, theme, _many(ActivitySpec, raw.get("activities"))))
    return doc


def _one(model: type[M], raw: Any) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _many(model: type[M], raw: Any) -> list[tuple[int, M]]:
    if not isinstance(raw, list):
        return []
    return [(i, item) for i, value in enumerate(raw) if (item := _one(model, value)) is not None]


def _raw_ids(raw: Any, key: str) -> set[str]:
    """The ids a list declares, read before validation."""
    if not isinstance(raw, list):
        return set()
    return {str(item[key]) for item in raw if isinstance(item, dict) and key in item}


def _occurrence_problems(spec: ProgrammeFile) -> list[tuple[PathParts, str]]:
    """Every recurrence gives at least one date and at most MAX_PER_ACTIVITY; the whole file
    at most MAX_PER_FILE. Expanding is bounded first by the number of RRULEs."""
    calendar = WorkCalendar(spec.non_working_days)
    activities = [
        (("themes", i, "activities", j), act)
        for i, theme in enumerate(spec.themes)
        for j, act in enumerate(theme.activities)
    ]
    rrules = [path for path, act in activities if act.repeat and act.repeat.rrule]
    if len(rrules) > bounds.MAX_RRULES:
        return [
            (
                (*rrules[bounds.MAX_RRULES], "repeat", "rrule"),
                f"te veel activiteiten met een RRULE (hooguit {bounds.MAX_RRULES} per bestand)",
            )
        ]
    problems: list[tuple[PathParts, str]] = []
    counts: list[tuple[PathParts, int]] = []
    for path, act in activities:
        count = len(occurrences(act, spec.programme, calendar))
        counts.append((path, count))
        if act.repeat and count == 0:
            problems.append(((*path, "repeat"), "herhaling geeft geen enkele datum in de periode"))
        elif act.repeat and count > bounds.MAX_PER_ACTIVITY:
            problems.append(
                (
                    (*path, "repeat"),
                    f"herhaling geeft {count} datums in de periode; "
                    f"hooguit {bounds.MAX_PER_ACTIVITY} per activiteit",
                )
            )
    total = sum(count for _, count in counts)
    if total > bounds.MAX_PER_FILE:
        running, crossing = 0, counts[-1][0]
        for path, count in counts:
            running += count
            if running > bounds.MAX_PER_FILE:
                crossing = path
                break
        problems.append(
            (
                crossing,
                f"het programma geeft {_dutch(total)} taken; hooguit "
                f"{_dutch(bounds.MAX_PER_FILE)} per bestand (de grens valt bij deze activiteit)",
            )
        )
    return problems


def _dutch(n: int) -> str:
    return f"{n:,}".replace(",", ".")
