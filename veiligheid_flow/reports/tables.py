"""Tables as files: a list of column specs plus plain rows → CSV or XLSX (by the suffix).

XLSX (openpyxl): real dates and numbers with number formats (dates dd-mm-jjjj), booleans as
booleans, a bold header row, the panes frozen below it, column widths and an autofilter.

CSV, written for Dutch Excel, which opens it with a double click: UTF-8 with a byte order mark
(else Excel reads it as Windows-1252), `;` between the fields (Dutch Excel's list separator;
a `,` would put every row in one cell), a decimal comma in numbers (no thousands separator),
dates as JJJJ-MM-DD (which Excel recognises in every language), date-times as
JJJJ-MM-DD UU:MM in Dutch time, booleans as ja/nee, an empty field for no value. A text that
begins with = + - @ gets a leading ' so Excel shows it instead of running it as a formula.

Rows hold plain values (str, int, float, Decimal, date, datetime, bool, None; a list or tuple
in a text column is written as "a, b"). The file is written next to its place and then
renamed, so a failure never leaves half a file."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from veiligheid_flow.clock import local_datetime
from veiligheid_flow.errors import DomainError

Kind = Literal["text", "date", "datetime", "number", "bool"]
FORMATS = ("csv", "xlsx")
SEPARATOR = ";"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str  # the field, as in the --json of the same listing
    header: str  # Dutch, the first row of the file
    kind: Kind = "text"
    width: int = 15  # in characters
    decimals: int | None = None  # a number: digits after the comma (None: as it is)


def table_format(path: Path) -> str:
    """'csv' or 'xlsx' from the suffix, or one Dutch line."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        given = f"'.{suffix}'" if suffix else "geen extensie"
        raise DomainError(
            f"{path}: onbekend bestandstype ({given}); kies een naam op .csv of .xlsx"
        )
    return suffix


def write_table(
    path: Path, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]
) -> int:
    """Write `rows` (one value per column) to `path` as CSV or XLSX; the number of rows."""
    kind = table_format(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DomainError(f"map {folder} bestaat niet: maak haar eerst of kies een andere")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if kind == "csv":
            count = _write_csv(Path(temporary), columns, rows)
        else:
            count = _write_xlsx(Path(temporary), title, columns, rows)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count


# --- CSV -----------------------------------------------------------------------------------


def csv_value(column: Column, value: Any) -> str:
    """One value as the CSV writes it."""
    if value is None:
        return ""
    if column.kind == "bool":
        return "ja" if value else "nee"
    if column.kind == "number":
        if column.decimals is not None:
            text = f"{value:.{column.decimals}f}"
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = str(value)
        return text.replace(".", ",")
    if column.kind == "datetime":
        return f"{_naive(value):%Y-%m-%d %H:%M}"
    if column.kind == "date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = _text(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _write_csv(path: Path, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=SEPARATOR, lineterminator="\r\n")
        writer.writerow([c.header for c in columns])
        for row in rows:
            writer.writerow([csv_value(c, v) for c, v in zip(columns, row, strict=True)])
            count += 1
    return count


# --- XLSX ----------------------------------------------------------------------------------


def _number_format(column: Column) -> str | None:
    if column.kind == "date":
        return "dd-mm-yyyy"
    if column.kind == "datetime":
        return "dd-mm-yyyy hh:mm"
    if column.kind == "number" and column.decimals is not None:
        return "0" if not column.decimals else "#,##0." + "0" * column.decimals
    return None


def _write_xlsx(
    path: Path, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_title(title))
    for i, column in enumerate(columns, 1):  # widths and panes go before the first row
        sheet.column_dimensions[get_column_letter(i)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = [_number_format(c) for c in columns]
    count = 0
    for row in rows:
        cells = []
        for column, fmt, value in zip(columns, formats, row, strict=True):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(column, value))
            if column.kind == "text" and cell.value is not None:
                cell.data_type = "s"  # a text that begins with '=' stays text, not a formula
            if fmt is not None:
                cell.number_format = fmt
            cells.append(cell)
        sheet.append(cells)
        count += 1
    last = get_column_letter(max(len(columns), 1))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    book.save(path)
    return count


def _xlsx_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "text":
        return _text(value)
    if column.kind == "datetime":
        return _naive(value)
    if column.kind == "date":
        return value.date() if isinstance(value, datetime) else value
    if column.kind == "bool":
        return bool(value)
    if isinstance(value, Decimal) and column.decimals == 0:
        return int(value)
    return value


def _sheet_title(title: str) -> str:
    clean = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()
    return (clean or "Blad")[:31]


# --- shared --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _naive(value: datetime | date) -> datetime:
    """A date-time as Dutch wall time without a zone (what a spreadsheet holds)."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value
    return local_datetime(value).replace(tzinfo=None)
