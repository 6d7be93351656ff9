"""Cross-reference checks over a (possibly partly valid) programme file. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date

from veiligheid_flow.problems import PathParts
from veiligheid_flow.programme.schema import (
    ActivitySpec,
    CouncilItemSpec,
    CouncilMeetingSpec,
    HolderSpec,
    PersonSpec,
    ProgrammeSpec,
    RolesSpec,
    SharedThemeSpec,
    ThemeSpec,
)

Finding = tuple[PathParts, str]


@dataclass
class IndexedProgramme:
    """The valid parts of a file, each with its index in the file (for error paths)."""

    programme: ProgrammeSpec | None = None
    people: list[tuple[int, PersonSpec]] = field(default_factory=list)
    holders: list[tuple[int, HolderSpec]] = field(default_factory=list)
    meetings: list[tuple[int, CouncilMeetingSpec]] = field(default_factory=list)
    council_items: list[tuple[int, CouncilItemSpec]] = field(default_factory=list)
    themes: list[tuple[int, ThemeSpec, list[tuple[int, ActivitySpec]]]] = field(
        default_factory=list
    )
    shared: list[tuple[int, SharedThemeSpec]] = field(default_factory=list)
    roles: RolesSpec | None = None
    # Ids present in the file even where the item itself is invalid (no false "unknown" errors).
    person_ids: set[str] = field(default_factory=set)
    holder_ids: set[str] = field(default_factory=set)
    item_codes: set[str] = field(default_factory=set)


def check(doc: IndexedProgramme, known_case_types: Collection[str] | None) -> list[Finding]:
    return [
        *_duplicates(doc),
        *_references(doc, known_case_types),
        *_dates(doc),
    ]


def _dupes(items: list[tuple[PathParts, str]], what: str) -> Iterator[Finding]:
    counts = Counter(value.lower() for _, value in items)
    for path, value in items:
        if counts[value.lower()] > 1:
            yield path, f"{what} '{value}' komt meer dan eens voor"


def _duplicates(doc: IndexedProgramme) -> Iterator[Finding]:
    yield from _dupes([(("people", i, "id"), p.id) for i, p in doc.people], "persoon-id")
    yield from _dupes(
        [(("people", i, "email"), str(p.email)) for i, p in doc.people], "e-mailadres"
    )
    yield from _dupes(
        [(("portfolio_holders", i, "id"), h.id) for i, h in doc.holders], "portefeuillehouder-id"
    )
    yield from _dupes([(("themes", i, "code"), t.code) for i, t, _ in doc.themes], "themacode")
    yield from _dupes(
        [
            (("themes", i, "activities", j, "code"), a.code)
            for i, _, acts in doc.themes
            for j, a in acts
        ],
        "activiteitcode",
    )
    yield from _dupes(
        [(("council_items", i, "code"), c.code) for i, c in doc.council_items], "agendapuntcode"
    )


def _references(
    doc: IndexedProgramme, known_case_types: Collection[str] | None
) -> Iterator[Finding]:
    people = doc.person_ids | {p.id for _, p in doc.people}
    holders = doc.holder_ids | {h.id for _, h in doc.holders}
    items = doc.item_codes | {c.code for _, c in doc.council_items}

    def person(path: PathParts, key: str | None) -> Iterator[Finding]:
        if key is not None and key not in people:
            yield path, f"onbekende persoon '{key}' (niet in 'people')"

    for role, ids in (doc.roles or RolesSpec()):
        for k, key in enumerate(ids):
            yield from person(("roles", role, k), key)
            if key in ids[:k]:
                yield ("roles", role, k), f"'{key}' staat er twee keer"
    for i, item in doc.council_items:
        if item.holder not in holders:
            yield ("council_items", i, "holder"), f"onbekende portefeuillehouder '{item.holder}'"
    for i, shared in doc.shared:
        for k, holder in enumerate(shared.holders):
            if holder not in holders:
                yield ("shared_themes", i, "holders", k), f"onbekende portefeuillehouder '{holder}'"
    for i, theme, activities in doc.themes:
        base: PathParts = ("themes", i)
        yield from person((*base, "owner"), theme.owner)
        yield from person((*base, "backup"), theme.backup)
        if theme.owner == theme.backup:
            yield (*base, "backup"), "achtervang is dezelfde persoon als de eerst verantwoordelijke"
        for k, holder in enumerate(theme.holders):
            if holder not in holders:
                yield (*base, "holders", k), f"onbekende portefeuillehouder '{holder}'"
            elif holder in theme.holders[:k]:
                yield (*base, "holders", k), f"portefeuillehouder '{holder}' staat er twee keer"
        for key, what in (("budget", "begrotingsregel"), ("realised", "realisatieregel")):
            seen_budget: set[tuple[int, str]] = set()
            for k, line in enumerate(getattr(theme, key)):
                if (line.year, line.description) in seen_budget:
                    yield (
                        (*base, key, k),
                        (f"{what} {line.year} '{line.description}' staat er twee keer"),
                    )
                seen_budget.add((line.year, line.description))
        for j, act in activities:
            path: PathParts = (*base, "activities", j)
            yield from person((*path, "owner"), act.owner)
            yield from person((*path, "backup"), act.backup)
            if (act.owner or theme.owner) == (act.backup or theme.backup):
                yield (
                    (*path, "backup"),
                    "achtervang is dezelfde persoon als de eerst verantwoordelijke",
                )
            if act.council_item is not None and act.council_item not in items:
                yield (*path, "council_item"), f"onbekend agendapunt '{act.council_item}'"
            if act.case and known_case_types is not None and act.case not in known_case_types:
                known = ", ".join(sorted(known_case_types))
                yield (*path, "case"), f"onbekend zaaktype '{act.case}' (bekend: {known})"


def _dates(doc: IndexedProgramme) -> Iterator[Finding]:
    period = doc.programme
    meeting_days: dict[date, set[str]] = {}
    for _, meeting in doc.meetings:
        meeting_days.setdefault(meeting.date, set()).add(meeting.body.lower())
    for i, item in doc.council_items:
        path: PathParts = ("council_items", i)
        if item.council_date and item.council_date < item.committee_date:
            yield (*path, "council_date"), "raadsdatum ligt vóór de commissiedatum"
        if item.submission_deadline and item.submission_deadline > item.committee_date:
            yield (*path, "submission_deadline"), "aanleverdatum ligt na de commissiedatum"
        if meeting_days and item.committee.lower() not in meeting_days.get(
            item.committee_date, set()
        ):
            yield (
                (*path, "committee_date"),
                (
                    f"geen vergadering van '{item.committee}' op {item.committee_date} "
                    "in 'council_meetings'"
                ),
            )
        if (
            meeting_days
            and item.council_date
            and "raad" not in meeting_days.get(item.council_date, set())
        ):
            yield (*path, "council_date"), f"geen raadsvergadering op {item.council_date}"
    if period is None:
        return
    for i, theme, _ in doc.themes:
        for k, line in enumerate(theme.realised):
            if not period.start.year <= line.year <= period.end.year:
                yield (
                    ("themes", i, "realised", k, "year"),
                    (
                        f"jaar {line.year} valt buiten de programmaperiode "
                        f"{period.start.year}–{period.end.year}"
                    ),
                )
    for i, _, activities in doc.themes:
        for j, act in activities:
            if act.due and not period.start <= act.due <= period.end:
                yield (
                    ("themes", i, "activities", j, "due"),
                    (
                        f"datum {act.due} valt buiten de programmaperiode "
                        f"{period.start} t/m {period.end}"
                    ),
                )
