"""The programme file as pydantic models. Field rules live here; cross-references in checks.py."""

from __future__ import annotations

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

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]


def _no_line_breaks(value: str) -> str:
    # Titles end up in email subjects: a line break there would be a header injection.
    if "\n" in value or "\r" in value:
        raise ValueError("mag geen regeleinde bevatten")
    return value


Title = Annotated[Text, AfterValidator(_no_line_breaks)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSpec(Strict):
    name: Title
    adopted_on: date | None = None
    start: date
    end: date


class ProgrammeSpec(Strict):
    code: Key
    name: Title
    start: date
    end: date

    @model_validator(mode="after")
    def _period(self) -> ProgrammeSpec:
        if self.end < self.start:
            raise ValueError("einddatum ligt vóór de begindatum")
        return self


class DefaultsSpec(Strict):
    submission_working_days: int = Field(default=10, ge=0, le=60)


class PersonSpec(Strict):
    id: Key
    name: Title
    email: EmailStr
    role: Title
    hours_per_week: float = Field(gt=0, le=60)


class HolderSpec(Strict):
    id: Key
    name: Title
    title: Literal["burgemeester", "wethouder"]
    email: EmailStr
    portfolio: Text | None = None


class BudgetLineSpec(Strict):
    year: int = Field(ge=2000, le=2100)
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    description: Title


class Recurrence(Strict):
    """every: month | quarter | year, or an RFC 5545 RRULE. Dates fall inside the period."""

    every: Literal["month", "quarter", "year"] | None = None
    day: int | None = Field(default=None, ge=1, le=31, description="day of month; default last")
    dates: list[Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{2}$")]] | None = None
    rrule: str | None = None

    @field_validator("rrule")
    @classmethod
    def _parse_rrule(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                rrulestr(value, dtstart=date(2000, 1, 1))
            except (ValueError, TypeError) as exc:
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
    due: date | None = None
    repeat: Recurrence | None = None
    case: Key | None = Field(default=None, description="event-driven: case type in the rules")
    effort_hours: float = Field(ge=0, le=2000)
    partners: list[Title] = []
    council_item: Key | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> ActivitySpec:
        given = [name for name in ("due", "repeat", "case") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("geef precies één van 'due', 'repeat' of 'case'")
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
    activities: list[ActivitySpec] = []


class CouncilMeetingSpec(Strict):
    body: Title = Field(description="'raad' or a committee name, e.g. 'commissie ABM'")
    date: date


class CouncilItemSpec(Strict):
    code: Key
    subject: Title
    type: Literal["raadsvoorstel", "raadsinformatiebrief", "mededeling", "collegebrief"]
    holder: Key
    committee: Title
    committee_date: date
    council_date: date | None = None
    submission_deadline: date | None = None
    submission_working_days: int | None = Field(default=None, ge=0, le=60)


class SharedThemeSpec(Strict):
    """A district theme another municipality's programme holds: its tasks are ours to see."""

    programme: Key = Field(description="code of the programme that holds the theme")
    theme: Key
    holders: list[Key] = Field(min_length=1, description="our portfolio holders for it")


class ProgrammeFile(Strict):
    municipality: Title
    plan: PlanSpec
    programme: ProgrammeSpec
    defaults: DefaultsSpec = DefaultsSpec()
    non_working_days: list[date] = []
    people: list[PersonSpec] = Field(min_length=1)
    portfolio_holders: list[HolderSpec] = Field(min_length=1)
    council_meetings: list[CouncilMeetingSpec] = []
    council_items: list[CouncilItemSpec] = []
    themes: list[ThemeSpec] = Field(min_length=1)
    shared_themes: list[SharedThemeSpec] = []
