"""The programme file as pydantic models. Field rules live here; cross-references in checks.py."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from dateutil.rrule import rrulestr
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from veiligheid_flow import limits
from veiligheid_flow.programme import bounds

Key = Annotated[
    str, StringConstraints(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{limits.KEY - 1}}}$")
]


def _plain_text(value: str) -> str:
    # PostgreSQL refuses NUL; other control characters break headers, .ics lines and terminals.
    problem = limits.control_problem(value, allow_newlines=True)
    if problem:
        raise ValueError(problem)
    return value


def _no_line_breaks(value: str) -> str:
    # Titles end up in email subjects: a line break there would be a header injection.
    problem = limits.control_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _deliverable(value: str) -> str:
    local = value.rsplit("@", 1)[0]
    if not local.isascii():
        raise ValueError(
            f"'{value}': het deel vóór de @ heeft tekens buiten ASCII, waar niet elke mailserver "
            "bij kan bezorgen; gebruik het ASCII-adres van deze persoon"
        )
    if len(value) > limits.EMAIL_VALID:
        raise ValueError(f"'{value[:40]}…' is te lang (hooguit {limits.EMAIL_VALID} tekens)")
    return value


Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.TEXT, strip_whitespace=True),
    AfterValidator(_plain_text),
]
Title = Annotated[Text, AfterValidator(_no_line_breaks)]
Email = Annotated[EmailStr, AfterValidator(_deliverable)]
Day = Annotated[date, AfterValidator(bounds.sane_year)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSpec(Strict):
    name: Title
    adopted_on: date | None = None
    start: date
    end: date

    _years = field_validator("adopted_on", "start", "end")(bounds.sane_year)
    _period = field_validator("end")(bounds.sane_period)


class ProgrammeSpec(Strict):
    code: Key
    name: Title
    start: date
    end: date

    _years = field_validator("start", "end")(bounds.sane_year)
    _period = field_validator("end")(bounds.sane_period)


class DefaultsSpec(Strict):
    submission_working_days: int = Field(default=10, ge=0, le=60)


class PersonSpec(Strict):
    id: Key
    name: Title
    email: Email
    role: Title
    hours_per_week: float = Field(gt=0, le=60)


class HolderSpec(Strict):
    id: Key
    name: Title
    title: Literal["burgemeester", "wethouder"]
    email: Email
    portfolio: Text | None = None


class BudgetLineSpec(Strict):
    year: int = Field(ge=2000, le=2100)
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    description: Title


class Recurrence(Strict):
    """every: month | quarter | year, or an RFC 5545 RRULE. Dates fall inside the period."""

    every: Literal["month", "quarter", "year"] | None = None
    day: int | None = Field(default=None, ge=1, le=31, description="day of month; default last")
    dates: (
        list[Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{2}$")]] | None
    ) = Field(default=None, max_length=366)  # at most one per day of the year
    rrule: str | None = None

    @field_validator("rrule")
    @classmethod
    def _parse_rrule(cls, value: str | None) -> str | None:
        if value is not None:
            problem = bounds.rrule_problem(value)
            if problem:
                raise ValueError(problem)
            try:
                rrulestr(value, dtstart=date(2000, 1, 1))
            except (ValueError, TypeError, OverflowError) as exc:
                raise ValueError(f"onleesbare RRULE: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Recurrence:
        if (self.every is None) == (self.rrule is None):
            raise ValueError("geef precies één van 'every' of 'rrule'")
        if self.every == "year" and not self.dates:
            raise ValueError("'every: year' vraagt 'dates' met datums als MM-DD")
        if self.every != "year" and self.dates:
            raise ValueError("'dates' hoort alleen bij 'every: year'")
        for month_day in self.dates or []:
            try:
                date.fromisoformat(f"2024-{month_day}")
            except ValueError:
                raise ValueError(f"'{month_day}' is geen geldige datum (MM-DD)") from None
        return self


class ActivitySpec(Strict):
    code: Key
    title: Title
    kind: Literal["deliver", "monitor"] = "deliver"
    owner: Key | None = None
    backup: Key | None = None
    statutory: Title | None = Field(default=None, description="legal basis; set = statutory task")
    due: Day | None = None
    repeat: Recurrence | None = None
    case: Key | None = Field(default=None, description="event-driven: case type in the rules")
    effort_hours: float = Field(ge=0, le=2000)
    case_effort_hours: float | None = Field(
        default=None,
        ge=0,
        le=2000,
        description="uren per zaak (alleen bij 'case'); zonder: de uren uit legal_terms.yaml",
    )
    partners: list[Title] = []
    council_item: Key | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> ActivitySpec:
        given = [name for name in ("due", "repeat", "case") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("geef precies één van 'due', 'repeat' of 'case'")
        if self.case_effort_hours is not None and self.case is None:
            raise ValueError("'case_effort_hours' hoort alleen bij een activiteit met 'case'")
        return self


class ThemeSpec(Strict):
    code: Key
    name: Title
    kind: Literal["district", "local", "other"]
    council_priority: bool
    holders: list[Key] = Field(min_length=1)
    owner: Key
    backup: Key
    partners: list[Title] = []
    budget: list[BudgetLineSpec] = []
    # What was spent, per year (`veiligheid budget boek` adds bookings beside these lines).
    realised: list[BudgetLineSpec] = []
    activities: list[ActivitySpec] = []


class CouncilMeetingSpec(Strict):
    body: Title = Field(description="'raad' or a committee name, e.g. 'commissie ABM'")
    date: Day


class CouncilItemSpec(Strict):
    code: Key
    subject: Title
    type: Literal["raadsvoorstel", "raadsinformatiebrief", "mededeling", "collegebrief"]
    holder: Key
    committee: Title
    committee_date: Day
    council_date: Day | None = None
    submission_deadline: Day | None = None
    submission_working_days: int | None = Field(default=None, ge=0, le=60)


# The council item fields an import column can fill: Dutch name (as on the command line)
# → field. The programme file's field names themselves are accepted as well.
IMPORT_FIELDS: dict[str, str] = {
    "code": "code",
    "onderwerp": "subject",
    "soort": "type",
    "portefeuillehouder": "holder",
    "commissie": "committee",
    "commissiedatum": "committee_date",
    "raadsdatum": "council_date",
    "aanleverdatum": "submission_deadline",
    "aanleverwerkdagen": "submission_working_days",
}


def import_field(name: str) -> str:
    """The council item field an import mapping key names (Dutch or the file's own name)."""
    key = name.strip().lower()
    if key in IMPORT_FIELDS:
        return IMPORT_FIELDS[key]
    if key in IMPORT_FIELDS.values():
        return key
    known = ", ".join(IMPORT_FIELDS)
    raise ValueError(f"onbekend veld '{name}' in de kolomindeling (bekend: {known})")


def _import_columns(columns: dict[str, str]) -> dict[str, str]:
    fields = [import_field(name) for name in columns]
    twice = {f for f in fields if fields.count(f) > 1}
    if twice:
        raise ValueError(f"veld {', '.join(sorted(twice))} staat er meer dan eens")
    return columns


class CouncilImportSpec(Strict):
    """How `veiligheid termijnagenda importeer` reads the council system's export: which
    column holds which field (e.g. `onderwerp: Titel`); unnamed fields keep the default."""

    columns: Annotated[
        dict[Annotated[str, StringConstraints(max_length=40)], Title],
        Field(max_length=len(IMPORT_FIELDS)),
        AfterValidator(_import_columns),
    ] = {}


class SharedThemeSpec(Strict):
    """A district theme another municipality's programme holds: its tasks are ours to see."""

    programme: Key = Field(description="code of the programme that holds the theme")
    theme: Key
    holders: list[Key] = Field(min_length=1, description="our portfolio holders for it")


class RolesSpec(Strict):
    """Who acts for the municipality beyond their own tasks (person ids from 'people')."""

    coordinators: list[Key] = Field(
        default=[], description="any task of the municipality, absences, loading the file"
    )
    crisis_delegates: list[Key] = Field(
        default=[], description="declare, update and end crises, beside the mayor"
    )


def municipality_code(name: str) -> str:
    """'Gooise Meren' → 'gooise-meren': the short code filters and crisis scopes use."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def _has_code(name: str) -> str:
    code = municipality_code(name)
    if not code:
        raise ValueError(f"'{name}' geeft geen gemeentecode (verwacht letters of cijfers)")
    if len(code) > limits.MUNICIPALITY_CODE:
        raise ValueError(f"naam te lang voor een gemeentecode (hooguit {limits.MUNICIPALITY_CODE})")
    return name


class ProgrammeFile(Strict):
    municipality: Annotated[Title, AfterValidator(_has_code)]
    plan: PlanSpec
    programme: ProgrammeSpec
    defaults: DefaultsSpec = DefaultsSpec()
    non_working_days: list[Day] = []
    people: list[PersonSpec] = Field(min_length=1)
    portfolio_holders: list[HolderSpec] = Field(min_length=1)
    council_meetings: list[CouncilMeetingSpec] = []
    council_items: list[CouncilItemSpec] = []
    council_import: CouncilImportSpec | None = None
    themes: list[ThemeSpec] = Field(min_length=1)
    shared_themes: list[SharedThemeSpec] = []
    roles: RolesSpec = RolesSpec()
