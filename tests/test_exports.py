"""Issue 13, item 4: `veiligheid export taken|termijnagenda -o FILE.csv|.xlsx`. The file,
read back (openpyxl for XLSX, the csv module for CSV), holds the same rows as the listing's
`--json`: same order, values and types (dates as dates, numbers as numbers, booleans)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.exports import COUNCIL_COLUMNS, TASK_COLUMNS
from veiligheid_flow.app.views import FLAGS, STATUS_LABELS, TaskStatus
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.reports.tables import Column, write_table

NOW = "2024-03-04T09:00"
HOSTILE_NOTE = '=HYPERLINK("http://example.invalid","klik")'


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def worked(app: App) -> App:
    """The example at March 2024: some work done (one with a note that looks like a formula),
    some late (signals), a crisis pausing a theme."""
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    listing = json.loads(run("tasks", "--now", "2023-06-01T09:00", "--json").stdout)
    for task in listing[:3]:
        done = run(
            "task",
            "done",
            task["id"],
            "--by",
            "OOV1",
            "--now",
            "2023-06-01T10:00",
            "--note",
            HOSTILE_NOTE,
        )
        assert done.exit_code == 0, done.output
    commands.declare_crisis(
        app,
        "Storm",
        grip=1,
        by="BM",
        now=at("2024-03-01T10:00"),
        themes=["VERKEERSVEILIGHEID"],
        staff=[],
        expected_days=10,
    )
    return app


def expected(column: Column, value: Any) -> Any:
    """A --json value as the export should hold it (written independently of the export)."""
    if value is None or value == []:
        return None
    if column.key == "status":
        return STATUS_LABELS[TaskStatus(value)]
    if column.key == "flags":
        return ", ".join(FLAGS[f] for f in value)
    if column.kind == "date":
        return date.fromisoformat(value)
    return value


def xlsx_rows(path: Path) -> tuple[Any, list[list[Any]]]:
    book = load_workbook(path)
    sheet = book.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return sheet, rows


def from_xlsx(column: Column, value: Any) -> Any:
    if column.kind == "date" and value is not None:
        assert isinstance(value, datetime)  # a real date, not text
        return value.date()
    return value


def from_csv(column: Column, text: str) -> Any:
    if text == "":
        return None
    if column.kind == "number":
        return float(text.replace(",", "."))
    if column.kind == "bool":
        assert text in ("ja", "nee")
        return text == "ja"
    if column.kind == "date":
        return date.fromisoformat(text)
    return text[1:] if text.startswith("'=") else text


def check_same(
    columns: tuple[Column, ...], items: list[dict[str, Any]], rows: list[list[Any]], read: Any
) -> None:
    assert rows[0] == [c.header for c in columns]
    assert len(rows) - 1 == len(items) > 0
    for item, row in zip(items, rows[1:], strict=True):
        assert len(row) == len(columns)
        for column, cell in zip(columns, row, strict=True):
            got, want = read(column, cell), expected(column, item[column.key])
            assert got == want, (column.key, got, want)
            if column.kind == "number" and want is not None:
                # A spreadsheet has one kind of number: 30.0 comes back as 30.
                assert isinstance(got, int | float) and not isinstance(got, bool), column.key
            else:
                assert type(got) is type(want), (column.key, got, want)


@pytest.mark.parametrize(
    "filters",
    [
        ["--all"],
        ["--theme", "VERKEERSVEILIGHEID", "--status", "open"],
        ["--owner", "OOV1", "--due-before", "2024-11-01", "--statutory", "--all"],
    ],
)
def test_task_export_holds_the_rows_of_tasks_json(
    worked: App, tmp_path: Path, filters: list[str]
) -> None:
    listing = run("tasks", *filters, "--now", NOW, "--json")
    assert listing.exit_code == 0, listing.output
    items = json.loads(listing.stdout)

    xlsx = tmp_path / "taken.xlsx"
    done = run("export", "taken", *filters, "--now", NOW, "-o", xlsx)
    assert done.exit_code == 0, done.output
    assert f"{len(items)} taken geschreven" in done.output
    sheet, rows = xlsx_rows(xlsx)
    check_same(TASK_COLUMNS, items, rows, from_xlsx)

    # Spreadsheet form: a bold header, panes frozen below it, widths, an autofilter, formats.
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.auto_filter.ref == f"A1:T{len(items) + 1}"
    assert sheet.column_dimensions["C"].width == 50
    due = [c.key for c in TASK_COLUMNS].index("due_date") + 1
    assert sheet.cell(row=2, column=due).number_format == "dd-mm-yyyy"

    path = tmp_path / "taken.csv"
    assert run("export", "taken", *filters, "--now", NOW, "-o", path).exit_code == 0
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    with path.open(encoding="utf-8-sig", newline="") as handle:
        check_same(TASK_COLUMNS, items, list(csv.reader(handle, delimiter=";")), from_csv)


def test_a_note_that_looks_like_a_formula_stays_text(worked: App, tmp_path: Path) -> None:
    xlsx, text = tmp_path / "t.xlsx", tmp_path / "t.csv"
    assert run("export", "taken", "--all", "--now", NOW, "-o", xlsx).exit_code == 0
    assert run("export", "taken", "--all", "--now", NOW, "-o", text).exit_code == 0
    note = [c.key for c in TASK_COLUMNS].index("note") + 1
    cells = [r[note - 1] for r in load_workbook(xlsx).active.iter_rows(min_row=2)]
    noted = [c for c in cells if c.value == HOSTILE_NOTE]
    assert len(noted) == 3 and all(c.data_type == "s" for c in noted)
    with text.open(encoding="utf-8-sig", newline="") as handle:
        notes = [r[note - 1] for r in csv.reader(handle, delimiter=";")]
    assert notes.count("'" + HOSTILE_NOTE) == 3  # Excel shows it, does not run it


def test_termijnagenda_export_holds_the_rows_of_its_json(worked: App, tmp_path: Path) -> None:
    listing = run("termijnagenda", "--now", "2023-10-02T09:00", "--json")
    assert listing.exit_code == 0, listing.output
    items = json.loads(listing.stdout)["items"]
    for suffix in ("xlsx", "csv"):
        path = tmp_path / f"agenda.{suffix}"
        done = run("export", "termijnagenda", "--now", "2023-10-02T09:00", "-o", path)
        assert done.exit_code == 0, done.output
        if suffix == "xlsx":
            sheet, rows = xlsx_rows(path)
            assert sheet.title == "Termijnagenda" and sheet.freeze_panes == "A2"
            check_same(COUNCIL_COLUMNS, items, rows, from_xlsx)
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.reader(handle, delimiter=";"))
            check_same(COUNCIL_COLUMNS, items, rows, from_csv)


@pytest.mark.parametrize("name", ["taken.ods", "taken", "taken.CSV.bak"])
def test_an_unknown_suffix_is_one_dutch_line_and_writes_nothing(
    worked: App, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run("export", "taken", "--now", NOW, "-o", out / name)
    assert result.exit_code == 1
    assert "onbekend bestandstype" in result.output and ".csv of .xlsx" in result.output
    assert "Traceback" not in result.output
    assert list(out.iterdir()) == []


def test_the_writer_is_generic_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    columns = (
        Column("n", "aantal", "number", 8, 0),
        Column("amount", "bedrag", "number", 12, 2),
        Column("when", "moment", "datetime", 18),
        Column("ok", "op tijd", "bool", 8),
    )
    rows = [(3, 1250.5, at("2024-12-31T17:30"), True), (None, None, None, None)]
    assert write_table(tmp_path / "x.xlsx", "Evaluatie: 2024", columns, rows) == 2
    sheet = load_workbook(tmp_path / "x.xlsx").active
    assert sheet.title == "Evaluatie  2024"
    assert [c.value for c in sheet[2]] == [3, 1250.5, datetime(2024, 12, 31, 17, 30), True]
    assert sheet["B2"].number_format == "#,##0.00" and [c.value for c in sheet[3]] == [None] * 4
    write_table(tmp_path / "x.csv", "x", columns, rows)
    lines = (tmp_path / "x.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["aantal;bedrag;moment;op tijd", "3;1250,50;2024-12-31 17:30;ja", ";;;"]
    from veiligheid_flow.errors import DomainError

    with pytest.raises(DomainError, match="bestaat niet"):
        write_table(tmp_path / "nee" / "x.csv", "x", columns, rows)
