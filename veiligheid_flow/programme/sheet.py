"""A table from a CSV or XLSX file, read within bounds: a huge or hostile file (a device, a zip
bomb, a million empty rows, a sheet 16,384 columns wide) is refused in bounded time and memory
with one Dutch line, as the YAML loader does (`problems.PositionedYaml.read`).

CSV: UTF-8 (with or without byte order mark; else Windows-1252, what older Dutch exports
write), the separator `;`, `,` or a tab, whichever the first line has most of. XLSX: the first
sheet, values as Excel last computed them (a formula's stored result)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veiligheid_flow.problems import InputInvalid, Problem

MAX_BYTES = 5_000_000  # the file as stored (a termijnagenda of a few hundred rows: ~100 kB)
MAX_UNPACKED = 50_000_000  # an XLSX unpacked, as its zip directory declares it
MAX_ROWS = 100_000  # rows read, empty ones included
MAX_FILLED = 5_000  # rows with a value
MAX_COLUMNS = 60
MAX_CELL = 10_000  # characters in one cell (a text field is refused above 300 later)


def _dutch(n: int) -> str:
    return f"{n:,}".replace(",", ".")


class SheetProblem(Problem):
    """'FILE, regel N, kolom C (naam): what is wrong': a spreadsheet user's words."""

    def __init__(self, file: str, line: int, column: str, header: str, message: str) -> None:
        super().__init__(file, line, 0, column, message)
        object.__setattr__(self, "header", header)

    def __str__(self) -> str:
        where = f"{self.file}, regel {self.line}"
        if self.path:
            where += f", kolom {self.path}" + (f" ({self.header})" if self.header else "")
        return f"{where}: {self.message}".replace("\n", " ")


def refuse(file: str, line: int, message: str, column: str = "", header: str = "") -> InputInvalid:
    return InputInvalid([SheetProblem(file, line, column, header, message)])


@dataclass(frozen=True)
class Sheet:
    file: str
    rows: list[tuple[int, list[Any]]]  # (line in the file, values), rows with a value only
    letters: bool  # columns are named by letter (XLSX) or by number (CSV)

    def column(self, index: int) -> str:
        """How the user's program names column `index` (0-based): 'C' or '3'."""
        if not self.letters:
            return str(index + 1)
        name, n = "", index + 1
        while n:
            n, rest = divmod(n - 1, 26)
            name = chr(65 + rest) + name
        return name


def read_sheet(path: Path) -> Sheet:
    """The rows of a .csv or .xlsx file; InputInvalid (one line) when it cannot or may not be
    read."""
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise refuse(file, 1, "onbekend bestandstype; verwacht een .csv- of .xlsx-bestand")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more: a huge file or a device is refused
    except OSError as exc:
        raise refuse(file, 1, f"kan bestand niet lezen: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise refuse(file, 1, f"bestand is te groot (meer dan {_dutch(MAX_BYTES)} bytes)")
    return _csv(file, raw) if suffix == ".csv" else _xlsx(file, raw)


class _Rows:
    """Collects rows, refusing too many, too wide or too long."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.rows: list[tuple[int, list[Any]]] = []
        self.read = 0

    def add(self, line: int, values: list[Any], sheet: Sheet | None = None) -> None:
        self.read += 1
        if self.read > MAX_ROWS:
            raise refuse(self.file, line, f"te veel regels (meer dan {_dutch(MAX_ROWS)})")
        while values and values[-1] in (None, ""):
            values = values[:-1]
        if not values:
            return
        if len(values) > MAX_COLUMNS:
            raise refuse(self.file, line, f"te veel kolommen (meer dan {MAX_COLUMNS})")
        for i, value in enumerate(values):
            if isinstance(value, str) and len(value) > MAX_CELL:
                column = sheet.column(i) if sheet else str(i + 1)
                raise refuse(
                    self.file, line, f"waarde is te lang ({_dutch(len(value))} tekens)", column
                )
        if len(self.rows) >= MAX_FILLED:
            raise refuse(self.file, line, f"te veel regels met gegevens (meer dan {MAX_FILLED})")
        self.rows.append((line, values))


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _separator(text: str) -> str:
    first = text.split("\n", 1)[0]
    return max((";", ",", "\t"), key=first.count)


def _csv(file: str, raw: bytes) -> Sheet:
    try:
        text = _decode(raw)
    except UnicodeDecodeError:
        raise refuse(file, 1, "geen leesbare tekst (verwacht UTF-8)") from None
    sheet = Sheet(file, [], letters=False)
    rows = _Rows(file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text))
    line = 1
    try:
        for values in reader:
            rows.add(line, [v.strip() for v in values], sheet)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise refuse(file, line, f"onleesbare CSV-regel ({exc})") from None
    return Sheet(file, rows.rows, letters=False)


def _xlsx(file: str, raw: bytes) -> Sheet:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise refuse(file, 1, "geen geldig .xlsx-bestand (geen zip-archief)") from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > 1_000 or unpacked > MAX_UNPACKED:
        raise refuse(
            file, 1, f"bestand is uitgepakt te groot (meer dan {_dutch(MAX_UNPACKED)} bytes)"
        )
    sheet = Sheet(file, [], letters=True)
    rows = _Rows(file)
    try:
        # The zip directory bounds what is unpacked: a member never yields more than it
        # declares (zipfile stops there and checks the CRC).
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            ws = book.worksheets[0]
            # max_col bounds each row: without it a sheet that declares 16,384 columns
            # would pad every row to that width.
            for line, values in enumerate(
                ws.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), 1
            ):
                rows.add(line, list(values), sheet)
        finally:
            book.close()
    except InputInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken file
        raise refuse(file, 1, f"onleesbaar .xlsx-bestand ({type(exc).__name__})") from None
    return Sheet(file, rows.rows, letters=True)
