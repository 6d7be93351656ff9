"""Issue 13, item 2: budget realisation. `realised:` lines in the programme file and bookings
with `veiligheid budget boek` (a coordinator only, audited), read back with `app.budget.budget`
at any moment: a past `now` shows the state then."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_region import laren_programme
from veiligheid_flow.app import commands
from veiligheid_flow.app.budget import BudgetView, book, budget
from veiligheid_flow.app.queries import actor
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.errors import DomainError, Refused
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.programme.budget import parse_amount, realised_by_theme
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.programme.models import Theme

DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
ANNA, BRAM = "a.devries@example.nl", "b.jansen@example.nl"  # coordinator; staff of Huizen
LAREN_ANNA = "a.devries@laren.example.nl"
THEME = next(t for t in DATA["themes"] if t["code"] == "ONDERMIJNING")


def programme_with(tmp_path: Path, realised: list[dict[str, Any]], name: str = "p.yaml") -> Path:
    doc = copy.deepcopy(DATA)
    theme = next(t for t in doc["themes"] if t["code"] == "ONDERMIJNING")
    theme["realised"] = realised
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def view(app: App, now: str, theme: str = "ONDERMIJNING", year: int = 2023) -> BudgetView:
    found = [v for v in budget(app, now=at(now)) if v.theme_code == theme and v.year == year]
    assert len(found) == 1
    return found[0]


# --- amounts (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.250,50", "1250.50"),
        ("1250,5", "1250.50"),
        ("1250.50", "1250.50"),
        ("1250", "1250.00"),
        ("€ 12.345.678,90", "12345678.90"),
        ("-300", "-300.00"),
        ("−1.000,00", "-1000.00"),  # a typographic minus
    ],
)
def test_dutch_and_plain_amounts_are_read(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1.250", "dubbelzinnig"),
        ("1,250.50", "geen bedrag"),
        ("12,345", "geen bedrag"),
        ("abc", "geen bedrag"),
        ("0", "boekt niets"),
        ("99999999999", "te groot"),
        ("1" * 50, "te lang"),
    ],
)
def test_a_doubtful_amount_is_refused_in_one_line(text: str, why: str) -> None:
    with pytest.raises(DomainError, match=why):
        parse_amount(text)


# --- the programme file ----------------------------------------------------------------------


def test_realised_lines_are_validated_like_budget_lines(tmp_path: Path) -> None:
    path = programme_with(
        tmp_path,
        [
            {"year": 2023, "amount": 100, "description": "RIEC"},
            {"year": 2023, "amount": 200, "description": "RIEC"},
            {"year": 2030, "amount": 1, "description": "Later"},
        ],
    )
    with pytest.raises(InputInvalid) as caught:
        read_programme(path)
    text = path.read_text(encoding="utf-8").splitlines()
    messages = {(p.path, p.message, p.line) for p in caught.value.problems}
    twice = next(m for m in messages if "staat er twee keer" in m[1])
    assert twice[1] == "realisatieregel 2023 'RIEC' staat er twee keer"
    start = next(i for i, line in enumerate(text) if line.strip() == "realised:")
    second = [i for i, line in enumerate(text) if i > start and "- year: 2023" in line][1]
    assert twice[2] == second + 1  # the line of the second 'RIEC' of 2023
    assert any("2030 valt buiten de programmaperiode 2023–2024" in m[1] for m in messages)
    negative = programme_with(tmp_path, [{"year": 2024, "amount": -5, "description": "x"}])
    with pytest.raises(InputInvalid) as caught:
        read_programme(negative)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (f"themes[{DATA['themes'].index(THEME)}].realised[0].amount", "moet ≥ 0 zijn")
    ]


def test_file_lines_count_from_their_load_and_reloads_keep_bookings(
    app: App, tmp_path: Path
) -> None:
    first = programme_with(tmp_path, [{"year": 2023, "amount": 10000, "description": "RIEC"}])
    commands.load(app, first, by=SYSTEM, now=at("2023-03-01T09:00"))
    book(
        app,
        "ONDERMIJNING",
        2023,
        "1.250,50",
        description="Training",
        by=ANNA,
        now=at("2023-04-03T10:00"),
    )
    assert view(app, "2023-04-03T12:00").realised == Decimal("11250.50")

    again = commands.load(app, first, by=SYSTEM, now=at("2023-05-01T09:00"))
    assert not again.changed  # the same file: nothing, and the booking is kept

    second = programme_with(
        tmp_path, [{"year": 2023, "amount": 12000, "description": "RIEC"}], "p2.yaml"
    )
    assert commands.load(app, second, by=ANNA, now=at("2023-06-01T09:00")).changed
    now = view(app, "2023-06-02T09:00")
    assert now.realised == Decimal("13250.50")
    kinds = [(e.kind, e.amount) for e in now.lines]
    assert kinds == [
        ("gepland", Decimal("45000.00")),
        ("geboekt", Decimal("1250.50")),
        ("gerealiseerd", Decimal("12000.00")),
    ]
    # A past moment shows the state then: the old file line, before the new one replaced it.
    assert view(app, "2023-05-15T09:00").realised == Decimal("11250.50")
    assert view(app, "2023-04-01T09:00").realised == Decimal("10000.00")
    assert view(app, "2023-02-01T09:00").realised == Decimal("0.00")  # not loaded yet

    with app.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "theme.realised").order_by(AuditEntry.id)
        ).all()
    assert [e.actor for e in entries] == ["systeem", ANNA]
    assert entries[-1].before == {"realised": [[2023, "10000.00", "RIEC"]]}


# --- booking ---------------------------------------------------------------------------------


@pytest.fixture
def loaded(app: App) -> App:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    return app


def test_a_booking_is_audited_and_counted_from_its_moment(loaded: App) -> None:
    done = book(
        loaded,
        "aanpak ondermijnende criminaliteit",
        2024,
        "2.500,00",
        description="  Bijdrage   RIEC ",
        by="OOV1",
        now=at("2024-02-01T10:00"),
    )
    assert done.view.theme_code == "ONDERMIJNING" and done.view.year == 2024
    assert done.entry.amount == Decimal("2500.00") and done.entry.by == ANNA
    assert done.entry.description == "Bijdrage RIEC"
    book(
        loaded,
        "ONDERMIJNING",
        2024,
        Decimal("-500.00"),
        description="Correctie",
        by=ANNA,
        now=at("2024-03-01T10:00"),
    )
    assert view(loaded, "2024-02-15T09:00", year=2024).realised == Decimal("2500.00")
    assert view(loaded, "2024-03-01T10:00", year=2024).realised == Decimal("2000.00")
    assert view(loaded, "2024-01-31T09:00", year=2024).realised == Decimal("0.00")

    with loaded.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "budget.book").order_by(AuditEntry.id)
        ).all()
    assert [(r.actor, r.after["amount"], r.reason) for r in rows] == [
        (ANNA, "2500.00", None),
        (ANNA, "-500.00", "correctie"),
    ]
    # The audit trail alone gives the realised total (what the evaluation counts).
    assert sum(Decimal(r.after["amount"]) for r in rows) == Decimal("2000.00")
    # The per-theme totals the digest and the board read agree with budget().
    with loaded.sessions() as session:
        theme = session.scalars(select(Theme).where(Theme.code == "ONDERMIJNING")).one()
        assert realised_by_theme(session, [theme.id], 2024, at("2024-02-15T09:00")) == {
            theme.id: Decimal("2500.00")
        }
        assert realised_by_theme(session, [theme.id], 2023, at("2024-03-01T10:00")) == {}


def test_a_correction_may_not_make_the_year_negative(loaded: App) -> None:
    book(loaded, "ONDERMIJNING", 2023, "100", description="a", by=ANNA, now=at("2023-05-01"))
    with pytest.raises(DomainError, match="negatief"):
        book(
            loaded,
            "ONDERMIJNING",
            2023,
            "-100,01",
            description="te veel",
            by=ANNA,
            now=at("2023-05-02"),
        )
    assert view(loaded, "2023-06-01").realised == Decimal("100.00")


@pytest.mark.parametrize(
    ("theme", "year", "by", "error", "match"),
    [
        ("ONDERMIJNIG", 2023, ANNA, DomainError, "bedoelt u 'ONDERMIJNING'"),
        ("ONDERMIJNING", 2026, ANNA, DomainError, "jaar 2026 valt buiten"),
        ("ONDERMIJNING", 2023, BRAM, Refused, "Alleen de coördinator van gemeente huizen"),
    ],
)
def test_a_wrong_booking_is_refused_and_changes_nothing(
    loaded: App, theme: str, year: int, by: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        book(loaded, theme, year, "10", description="x", by=by, now=at("2023-05-01"))
    with pytest.raises(DomainError, match="omschrijving mag niet leeg"):
        book(loaded, "ONDERMIJNING", 2023, "10", description=" ", by=ANNA, now=at("2023-05-01"))
    assert all(v.realised == 0 for v in budget(loaded, now=at("2024-12-31")))


def test_another_municipality_neither_books_nor_sees_huizen(app: App, tmp_path: Path) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    commands.load(app, laren_programme(tmp_path), by=SYSTEM, now=at("2023-03-01T09:00"))
    with pytest.raises(DomainError, match="onbekend thema 'ONDERMIJNING'"):
        book(app, "ONDERMIJNING", 2023, "10", description="x", by=LAREN_ANNA, now=at("2023-05-01"))
    with pytest.raises(Refused, match="werkt niet voor gemeente huizen"):
        book(
            app,
            "ONDERMIJNING",
            2023,
            "10",
            description="x",
            by=LAREN_ANNA,
            now=at("2023-05-01"),
            municipality="huizen",
        )
    book(
        app,
        "VERKEERSVEILIGHEID",
        2023,
        "10",
        description="Laren",
        by=LAREN_ANNA,
        now=at("2023-05-01"),
    )
    laren = budget(app, now=at("2023-06-01"), actor=actor(app, LAREN_ANNA))
    assert {v.municipality for v in laren} == {"laren"}
    # The district theme is Huizen's money: not repeated for Laren, which shares in it.
    assert "ONDERMIJNING" not in {v.theme_code for v in laren}
    everyone = budget(app, now=at("2023-06-01"))
    assert [(v.municipality, v.theme_name, v.year) for v in everyone] == sorted(
        (v.municipality, v.theme_name, v.year) for v in everyone
    )
    huizen = [v for v in everyone if v.municipality == "huizen"]
    assert sum(v.realised for v in huizen) == 0
    planned = sum(b["amount"] for t in DATA["themes"] for b in t.get("budget", []))
    assert sum(v.planned for v in huizen) == planned


# --- the CLI ---------------------------------------------------------------------------------


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_cli_books_and_lists_planned_against_realised(loaded: App) -> None:
    done = run(
        "budget",
        "boek",
        "ondermijning",
        2023,
        "1.250,50",
        "--omschrijving",
        "RIEC",
        "--by",
        "OOV1",
        "--now",
        "2023-05-01T10:00",
    )
    assert done.exit_code == 0, done.output
    assert "€ 1.250,50" in done.output and "€ 45.000,00" in done.output
    fix = run(
        "budget",
        "boek",
        "ondermijning",
        2023,
        "-250,50",
        "--omschrijving",
        "fout",
        "--by",
        "OOV1",
        "--now",
        "2023-05-02T10:00",
        "--json",
    )
    assert fix.exit_code == 0, fix.output
    assert json.loads(fix.stdout)["item"]["realised"] == "1000.00"

    listing = run("budget", "--json", "--now", "2023-06-01T09:00", "-g", "huizen")
    assert listing.exit_code == 0, listing.output
    items = json.loads(listing.stdout)["items"]
    theirs = next(i for i in items if i["theme_code"] == "ONDERMIJNING" and i["year"] == 2023)
    assert (theirs["planned"], theirs["realised"]) == ("45000.00", "1000.00")
    assert [line["kind"] for line in theirs["lines"]] == ["gepland", "geboekt", "geboekt"]
    table = run("budget", "--now", "2023-06-01T09:00")
    assert table.exit_code == 0 and "€ 1.000,00" in table.output

    refused = run(
        "budget", "boek", "ondermijning", 2023, "1.250", "--omschrijving", "x", "--by", "OOV1"
    )
    assert refused.exit_code == 1 and "dubbelzinnig" in refused.output
    assert "Traceback" not in refused.output
