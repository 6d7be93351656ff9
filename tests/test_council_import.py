"""Issue 13, item 5: `veiligheid termijnagenda importeer FILE.csv|.xlsx`. Imported items are
council items like the programme file's (the same checks); a bad cell is named by line and
column and nothing is imported; the same file again changes nothing; a changed date is
audited and reaches the council alerts; a reload of the programme file drops nothing."""

from __future__ import annotations

import json
import time
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, ROOT, at
from tests.test_region import laren_programme
from veiligheid_flow.app import commands
from veiligheid_flow.app.council_import import import_agenda
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.errors import DomainError, Refused
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.programme import sheet as sheets
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.wording import dutch_date

IBABS = ROOT / "tests" / "data" / "termijnagenda-ibabs.csv"
NOW = "2024-09-02T09:00"
CALENDAR = read_programme(EXAMPLE).calendar
HEADER = "Kenmerk;Onderwerp;Soort;Portefeuillehouder;Commissie;Datum commissie;Datum raad"
CAMERA = "TA24-11-CAMERATOEZICHT"  # in the programme file too; activity C05 works toward it


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def agenda(now: str = NOW) -> dict[str, dict[str, Any]]:
    listing = run("termijnagenda", "--now", now, "--json")
    assert listing.exit_code == 0, listing.output
    return {i["code"]: i for i in json.loads(listing.stdout)["items"]}


def audit_count(app: App) -> int:
    with app.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def csv_file(tmp_path: Path, *rows: str, name: str = "agenda.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def loaded(app: App) -> App:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    return app


# --- a first import, and the same file again -----------------------------------------------


def test_the_ibabs_export_is_imported_once(loaded: App) -> None:
    before = agenda()
    result = run("termijnagenda", "importeer", IBABS, "--by", "OOV1", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "2 nieuw" in result.output and "1 ongewijzigd" in result.output
    after = agenda()
    assert set(after) - set(before) == {"TA24-10-JEUGDOVERLAST", "TA24-12-APV"}
    apv = after["TA24-12-APV"]
    assert (apv["committee_date"], apv["submission_deadline"]) == ("2024-12-05", "2024-11-15")
    assert apv["holder"] == "Marieke Verbeek (burgemeester)"  # 'BM' in the file
    youth = after["TA24-10-JEUGDOVERLAST"]
    # No aanleverdatum: 10 working days before the commissie, as for the programme file.
    assert (
        youth["submission_deadline"]
        == CALENDAR.add_working_days(date(2024, 10, 10), -10).isoformat()
    )
    assert youth["holder"] == "Ayse Kaya (wethouder)"  # by name
    assert before[CAMERA] == after[CAMERA]  # the same values: left alone

    entries = audit_count(loaded)
    again = run("termijnagenda", "importeer", IBABS, "--by", "OOV1", "--now", "2024-09-03T09:00")
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Geen wijzigingen")
    assert audit_count(loaded) == entries

    with loaded.sessions() as session:
        created = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "council_item.create", AuditEntry.at == at(NOW)
            )
        ).all()
    assert {e.after["code"] for e in created} == {"TA24-10-JEUGDOVERLAST", "TA24-12-APV"}
    assert all(
        e.actor == "a.devries@example.nl" and "termijnagenda-ibabs.csv" in e.reason for e in created
    )


def test_dry_run_says_what_would_change_and_changes_nothing(loaded: App) -> None:
    entries, before = audit_count(loaded), agenda()
    result = run("termijnagenda", "importeer", IBABS, "--by", "OOV1", "--now", NOW, "--dry-run")
    assert (
        result.exit_code == 0 and "Zou importeren" in result.output and "2 nieuw" in result.output
    )
    assert audit_count(loaded) == entries and agenda() == before


# --- a changed date ----------------------------------------------------------------------------


def lead_day(deadline: date, working_days: int) -> datetime:
    day = CALENDAR.on_or_before(CALENDAR.add_working_days(deadline, -working_days))
    return at(f"{day.isoformat()}T09:00")


def alerts_about(app: App, subject: str) -> list[OutboxMessage]:
    with app.sessions() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "council", OutboxMessage.subject.contains(subject)
                )
            )
        )
        session.expunge_all()
    return rows


def test_a_moved_committee_date_is_audited_and_moves_the_council_alert(
    loaded: App, tmp_path: Path
) -> None:
    old = date.fromisoformat(agenda()[CAMERA]["submission_deadline"])
    moved = csv_file(
        tmp_path,
        f"{CAMERA};Evaluatie cameratoezicht centrum;raadsinformatiebrief;BM;commissie ABM;"
        "05-12-2024;19-12-2024",
    )
    result = run("termijnagenda", "importeer", moved, "--by", "OOV1", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"1 gewijzigd ({CAMERA})" in " ".join(result.output.split())
    item = agenda()[CAMERA]
    new = date.fromisoformat(item["submission_deadline"])
    assert item["committee_date"] == "2024-12-05"
    assert new == CALENDAR.add_working_days(date(2024, 12, 5), -10) and new > old
    with loaded.sessions() as session:
        update = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "council_item.update")
        ).one()
    assert update.before["committee_date"] == "2024-11-14"
    assert update.after["submission_deadline"] == new.isoformat()
    assert update.before["source"] == "programma" and update.after["source"] == "import"

    # The alert 5 working days before the old deadline no longer comes; the new one does.
    job = JOBS_BY_NAME["council_alerts"]
    run_job(loaded, job, now=lead_day(old, 5))
    assert alerts_about(loaded, "Evaluatie cameratoezicht") == []
    run_job(loaded, job, now=lead_day(new, 5))
    alerts = alerts_about(loaded, "Evaluatie cameratoezicht")
    assert alerts and all(dutch_date(new) in a.subject for a in alerts)
    assert {"m.verbeek@example.nl", "a.devries@example.nl"} <= {a.recipient for a in alerts}

    # A reload of the unchanged programme file keeps the imported date (the import wrote last).
    assert not commands.load(loaded, EXAMPLE, by="OOV1", now=at("2024-09-04T09:00")).changed
    assert agenda("2024-09-04T09:00")[CAMERA]["committee_date"] == "2024-12-05"


def test_an_edit_of_the_item_in_the_file_wins_over_the_import(loaded: App, tmp_path: Path) -> None:
    moved = csv_file(
        tmp_path,
        f"{CAMERA};Evaluatie cameratoezicht centrum;raadsinformatiebrief;BM;commissie ABM;"
        "05-12-2024;",
    )
    import_agenda(loaded, moved, by="OOV1", now=at(NOW))
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    item = next(i for i in doc["council_items"] if i["code"] == CAMERA)
    item["committee_date"] = date(2024, 10, 10)
    item["council_date"] = date(2024, 10, 24)
    edited = tmp_path / "programma.yaml"
    edited.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert commands.load(loaded, edited, by="OOV1", now=at("2024-09-04T09:00")).changed
    assert agenda("2024-09-04T09:00")[CAMERA]["committee_date"] == "2024-10-10"


# --- items that leave, and a reload -------------------------------------------------------


def test_a_reload_keeps_imported_items_and_a_later_import_withdraws_only_future_ones(
    loaded: App, tmp_path: Path
) -> None:
    rows = [
        "TA24-09-OUD;Verleden stuk;mededeling;BM;commissie ABM;12-09-2024;",
        "TA24-10-WEG;Vervalt;mededeling;BM;commissie ABM;10-10-2024;",
        "TA24-10-BLIJFT;Blijft;mededeling;BM;commissie ABM;10-10-2024;",
    ]
    import_agenda(loaded, csv_file(tmp_path, *rows), by="OOV1", now=at(NOW))
    assert not commands.load(loaded, EXAMPLE, by="OOV1", now=at("2024-09-03T09:00")).changed
    assert {"TA24-09-OUD", "TA24-10-WEG", "TA24-10-BLIJFT"} <= set(agenda("2024-09-03T09:00"))

    # Later: the export covers the coming months only, and TA24-10-WEG has left it.
    later = csv_file(tmp_path, rows[2], name="later.csv")
    done = import_agenda(loaded, later, by="OOV1", now=at("2024-09-20T09:00"))
    assert done.withdrawn == ("TA24-10-WEG",) and done.unchanged == 1
    now = agenda("2024-09-20T09:00")
    assert "TA24-10-WEG" not in now
    assert "TA24-09-OUD" in now  # its commissie has passed: history, kept
    assert CAMERA in now  # the programme file's item: not the import's to withdraw


# --- bad rows ----------------------------------------------------------------------------------


def test_every_bad_cell_is_named_by_line_and_column_and_nothing_is_imported(
    loaded: App, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        "TA24-X;Goed;raadsvoorstel;BM;commissie ABM;05-12-2024;19-12-2024",
        "TA24-Y;Datum;raadsvoorstel;BM;commissie ABM;31-02-2024;",
        "TA24-Z;;rib;Wethouder;commissie ABM;05-12-2024;",
        "TA24 W;Raad eerder;brief;BM;commissie ABM;05-12-2024;01-12-2024",
        "TA24-X;Dubbel;mededeling;BM;commissie ABM;14-11-2024;",
        "TA24-V;Geen vergadering;mededeling;BM;commissie ABM;06-12-2024;",
    )
    entries, before = audit_count(loaded), agenda()
    result = run("termijnagenda", "importeer", path, "--by", "OOV1", "--now", NOW)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "er is niets gewijzigd" in result.output
    lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(code: str, nth: int = 0) -> int:
        return [i for i, text in enumerate(lines, 1) if text.startswith(code + ";")][nth]

    for expected in (
        f"{path}, regel {line_of('TA24-Y')}, kolom 6 (Datum commissie): '31-02-2024' is geen "
        "bestaande datum",
        f"{path}, regel {line_of('TA24-Z')}, kolom 2 (Onderwerp): lege cel; dit veld is verplicht",
        f"{path}, regel {line_of('TA24-Z')}, kolom 4 (Portefeuillehouder): 'Wethouder' noemt meer "
        "dan één portefeuillehouder",
        f"{path}, regel {line_of('TA24 W')}, kolom 1 (Kenmerk): ongeldige code",
        f"{path}, regel {line_of('TA24 W')}, kolom 3 (Soort): onbekende soort 'brief'",
        f"{path}, regel {line_of('TA24-X', 1)}, kolom 1 (Kenmerk): agendapuntcode 'TA24-X' komt "
        "meer dan eens voor",
        f"{path}, regel {line_of('TA24-V')}, kolom 6 (Datum commissie): geen vergadering van "
        "'commissie ABM' op 2024-12-06",
    ):
        assert expected in " ".join(result.output.split()), expected
    assert audit_count(loaded) == entries and agenda() == before


def test_council_date_before_committee_is_refused_like_in_the_yaml(
    loaded: App, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path, "TA24-R;Raad eerder;mededeling;BM;commissie ABM;05-12-2024;28-11-2024"
    )
    with pytest.raises(InputInvalid) as caught:
        import_agenda(loaded, path, by="OOV1", now=at(NOW))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}, regel 2, kolom 7 (Datum raad): raadsdatum ligt vóór de commissiedatum"
    ]


def test_missing_columns_name_the_mapping_to_give(loaded: App, tmp_path: Path) -> None:
    path = tmp_path / "notubiz.csv"
    path.write_text("Titel;Vergadering;Datum\nx;y;z\n", encoding="utf-8")
    with pytest.raises(InputInvalid) as caught:
        import_agenda(loaded, path, by="OOV1", now=at(NOW))
    message = str(caught.value.problems[0])
    assert message.startswith(f"{path}, regel 1: geen kopregel met de kolom(men) 'Kenmerk'")
    assert "--kolommen" in message and "Titel, Vergadering, Datum" in message
    with pytest.raises(DomainError, match="onbekend veld 'titel'"):
        import_agenda(loaded, path, by="OOV1", now=at(NOW), columns="titel=Titel")


# --- XLSX with the mapping from the programme file and the flag -------------------------------


def notubiz_xlsx(path: Path, committee: date) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Termijnagenda (export NotuBiz, verzonnen)"])
    sheet.append(
        ["Nummer", "Titel", "Type", "Portefeuille", "Vergadering", "Vergaderdatum", "Raad"]
    )
    sheet.append(
        [
            "TA24-12-HORECA",
            "Horecabeleid 2025",
            "Raadsvoorstel",
            "burgemeester",
            "commissie ABM",
            datetime.combine(committee, datetime.min.time()),
            date(2024, 12, 19),
        ]
    )
    book.save(path)
    return path


def test_xlsx_with_the_programme_files_column_mapping(app: App, tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["council_import"] = {
        "columns": {
            "code": "Nummer",
            "onderwerp": "Titel",
            "soort": "Type",
            "portefeuillehouder": "Portefeuille",
            "commissie": "Vergadering",
            "commissiedatum": "Vergaderdatum",
        },
    }
    programme = tmp_path / "programma.yaml"
    programme.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    commands.load(app, programme, by=SYSTEM, now=at("2023-03-01T09:00"))
    path = notubiz_xlsx(tmp_path / "notubiz.xlsx", date(2024, 12, 5))
    with pytest.raises(InputInvalid):  # a column named with --kolommen must be in the file
        import_agenda(app, path, by="OOV1", now=at(NOW), columns="raadsdatum=Raadd")
    done = import_agenda(app, path, by="OOV1", now=at(NOW), columns="raadsdatum=Raad")
    assert done.created == ("TA24-12-HORECA",)
    item = agenda()["TA24-12-HORECA"]
    assert (item["committee_date"], item["holder"]) == (
        "2024-12-05",
        "Marieke Verbeek (burgemeester)",
    )

    bad = notubiz_xlsx(tmp_path / "bad.xlsx", date(2024, 12, 6))
    with pytest.raises(InputInvalid) as caught:
        import_agenda(app, bad, by="OOV1", now=at(NOW), columns="raadsdatum=Raad")
    assert str(caught.value.problems[0]).startswith(
        f"{bad}, regel 3, kolom F (Vergaderdatum): geen vergadering"
    )


def test_the_mapping_in_the_programme_file_is_checked(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["council_import"] = {"columns": {"titel": "Titel"}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputInvalid) as caught:
        read_programme(path)
    problem = caught.value.problems[0]
    assert problem.path == "council_import.columns" and "onbekend veld 'titel'" in problem.message
    assert path.read_text(encoding="utf-8").splitlines()[problem.line - 1].strip() == "columns:"


# --- who may import ----------------------------------------------------------------------------


def test_only_a_coordinator_of_the_municipality_imports(app: App, tmp_path: Path) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    commands.load(app, laren_programme(tmp_path), by=SYSTEM, now=at("2023-03-01T09:00"))
    with pytest.raises(Refused, match="Alleen de coördinator van gemeente huizen"):
        import_agenda(
            app, IBABS, by="f.elamrani@example.nl", now=at(NOW), programme="UPV-2023-2024"
        )
    with pytest.raises(Refused, match="werkt niet voor gemeente huizen"):
        import_agenda(
            app, IBABS, by="a.devries@laren.example.nl", now=at(NOW), programme="UPV-2023-2024"
        )
    done = import_agenda(app, IBABS, by="a.devries@example.nl", now=at(NOW))
    assert done.programme == "UPV-2023-2024" and len(done.created) == 2


# --- hostile files: refused in bounded time and memory ---------------------------------------


def refused_quickly(app: App, path: Path, match: str) -> None:
    started = time.monotonic()
    with pytest.raises(InputInvalid) as caught:
        import_agenda(app, path, by="OOV1", now=at(NOW))
    assert time.monotonic() - started < 10
    assert match in str(caught.value.problems[0]), str(caught.value.problems[0])


def test_hostile_files_are_refused(loaded: App, tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(sheets.MAX_BYTES + 1)
    refused_quickly(loaded, huge, "bestand is te groot")

    device = tmp_path / "zero.csv"
    device.symlink_to("/dev/zero")
    refused_quickly(loaded, device, "bestand is te groot")

    rows = tmp_path / "rows.csv"
    rows.write_text(HEADER + "\n" + "a;b\n" * (sheets.MAX_FILLED + 1), encoding="utf-8")
    refused_quickly(loaded, rows, "te veel regels met gegevens")

    empty_lines = tmp_path / "empty.csv"
    empty_lines.write_text(HEADER + "\n" + ";\n" * (sheets.MAX_ROWS + 1), encoding="utf-8")
    refused_quickly(loaded, empty_lines, "te veel regels")

    wide = tmp_path / "wide.csv"
    wide.write_text(";".join(["x"] * (sheets.MAX_COLUMNS + 1)) + "\n", encoding="utf-8")
    refused_quickly(loaded, wide, "te veel kolommen")

    cell = tmp_path / "cell.csv"
    cell.write_text(HEADER + "\n" + "x" * (sheets.MAX_CELL + 1) + "\n", encoding="utf-8")
    refused_quickly(loaded, cell, "waarde is te lang")

    bomb = tmp_path / "bomb.xlsx"  # a small zip that unpacks to more than the bound
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (sheets.MAX_UNPACKED + 1))
    assert bomb.stat().st_size < sheets.MAX_BYTES
    refused_quickly(loaded, bomb, "uitgepakt te groot")

    sparse = tmp_path / "sparse.xlsx"  # one cell in the last row Excel has
    book = Workbook()
    book.active["A1048576"] = "x"
    book.active["XFD1"] = "breed"
    book.save(sparse)
    refused_quickly(loaded, sparse, "te veel")

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 nonsense")
    refused_quickly(loaded, broken, ".xlsx")
