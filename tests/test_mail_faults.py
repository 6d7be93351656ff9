"""Delivery faults (issue 9): a lost reply after DATA, odd addresses, a full mail folder, and
control characters in headers and .ics lines. Real SMTP servers (aiosmtpd on loopback), a real
tmpfs for the full disk, rows written straight into the outbox (whatever the database holds)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import subprocess
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import Result
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from icalendar import Calendar
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import at
from veiligheid_flow.app.jobs import dispatch_outbox
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import deadlines_ics
from veiligheid_flow.mail.transport import build_message
from veiligheid_flow.settings import Settings

T0 = at("2023-10-10T08:05")
JOSE = "josé.jansen@example.nl"
IDN = "jan@exämple.nl"  # the domain goes out as xn--exmple-cua.nl
IDN_ASCII = "jan@xn--exmple-cua.nl"


# --- helpers --------------------------------------------------------------------------------------


def cli_run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _insert(app: App, rows: list[dict[str, Any]], now: datetime = T0) -> list[int]:
    """Write rows straight into the outbox (no Draft checks: whatever the database may hold)."""
    with app.unit_of_work() as session:
        made = []
        for i, values in enumerate(rows):
            row = OutboxMessage(
                key=values.pop("key", f"fault:{i}:{values.get('recipient', 'x')}"),
                kind="fault",
                recipient=values.pop("recipient", f"p{i}@example.nl"),
                cc=values.pop("cc", []),
                subject=values.pop("subject", f"Bericht {i}"),
                text_body=values.pop("text_body", f"Tekst {i}"),
                html_body=values.pop("html_body", f"<p>Tekst {i}</p>"),
                ics=values.pop("ics", None),
                status=OutboxStatus.PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            assert not values, values
            session.add(row)
            made.append(row)
        session.flush()
        return [r.id for r in made]


def _rows(app: App) -> dict[int, OutboxMessage]:
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return {r.id: r for r in rows}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """aiosmtpd handler. Every message whose data arrived is recorded (by Message-ID): that is
    the moment a real server may have queued it. The next `faults` messages meet `fault`:
    'drop_after_data' closes the connection instead of replying, 'late_reply' replies after
    `delay` seconds, 'drop_at_mail' and 'drop_at_rcpt' close it at MAIL or RCPT."""

    def __init__(self, fault: str | None = None, faults: int = 0, delay: float = 1.0) -> None:
        self.fault, self.faults, self.delay = fault, faults, delay
        self.lock = threading.Lock()
        self.arrived: list[tuple[list[str], list[str], bytes]] = []

    def _take_fault(self, kind: str) -> bool:
        with self.lock:
            if self.fault == kind and self.faults > 0:
                self.faults -= 1
                return True
        return False

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # noqa: ANN001
        if self._take_fault("drop_at_mail"):
            server.transport.close()
            return "250 OK"
        envelope.mail_from, envelope.mail_options = address, list(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: ANN001
        if self._take_fault("drop_at_rcpt"):
            server.transport.close()
            return "250 OK"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        with self.lock:
            self.arrived.append(
                (list(envelope.mail_options), list(envelope.rcpt_tos), envelope.original_content)
            )
        if self._take_fault("drop_after_data"):
            server.transport.close()
            return "250 OK"  # written to a closed transport: never reaches the client
        if self._take_fault("late_reply"):
            await asyncio.sleep(self.delay)
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [_parse(data) for _, _, data in self.arrived]

    def message_ids(self) -> Counter[str]:
        return Counter(m["Message-ID"] for m in self.messages())


def _parse(data: bytes) -> email.message.EmailMessage:
    # UTF-8 headers (RFC 6532) parse only from text; ASCII messages read the same either way.
    return email.message_from_string(data.decode("utf-8"), policy=email.policy.default)


@pytest.fixture
def start_server() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(handler: Server, *, smtputf8: bool = False) -> int:
        port = _free_port()
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8
        )
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def _smtp_app(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, port: int, timeout: float
) -> App:
    """The test's settings with SMTP to `port`, also in the environment for the CLI."""
    for key, value in (("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", str(port)),
                       ("SMTP_TIMEOUT", str(timeout))):
        monkeypatch.setenv(f"VEILIGHEID_{key}", value)
    return bootstrap(Settings())


@pytest.fixture
def smtp_app(settings, monkeypatch, start_server) -> Iterator[Any]:
    apps: list[App] = []

    def make(handler: Server, *, smtputf8: bool = False, timeout: float = 5.0) -> App:
        made = _smtp_app(settings, monkeypatch, start_server(handler, smtputf8=smtputf8), timeout)
        apps.append(made)
        return made

    yield make
    for made in apps:
        made.close()


# --- 1. a lost reply after the end of DATA: uncertain, never resent -------------------------------


@pytest.mark.parametrize("fault", ["drop_after_data", "late_reply"])
def test_lost_reply_after_data_is_uncertain_and_not_resent(smtp_app, fault):
    server = Server(fault, faults=1, delay=1.5)
    app = smtp_app(server, timeout=0.5)
    ids = _insert(app, [{} for _ in range(3)])

    first = dispatch_outbox(app, now=T0)
    rows = _rows(app)
    assert rows[ids[0]].status == OutboxStatus.UNCERTAIN, rows[ids[0]].last_error
    assert "onzeker" in (rows[ids[0]].last_error or "")
    assert first.uncertain == [ids[0]] and first.sent == []  # the batch stopped
    assert {rows[i].status for i in ids[1:]} == {OutboxStatus.PENDING}

    second = dispatch_outbox(app, now=T0 + timedelta(minutes=30))
    third = dispatch_outbox(app, now=T0 + timedelta(days=1))
    rows = _rows(app)
    assert sorted(second.sent) == ids[1:] and third.sent == []
    assert rows[ids[0]].status == OutboxStatus.UNCERTAIN
    assert server.message_ids() == Counter({rows[i].message_id: 1 for i in ids})

    # A person decides: the mail log shows it (confirm), or it never came (retry → sent again).
    if fault == "drop_after_data":
        result = cli_run(
            "outbox", "confirm", ids[0], "--message-id", rows[ids[0]].message_id,
            "--now", "2023-10-11T09:00",
        )
        assert result.exit_code == 0, result.output
        dispatch_outbox(app, now=T0 + timedelta(days=2))
        assert server.message_ids()[rows[ids[0]].message_id] == 1
    else:
        result = cli_run("outbox", "retry", ids[0], "--now", "2023-10-11T09:00")
        assert result.exit_code == 0, result.output
        assert dispatch_outbox(app, now=at("2023-10-11T09:01")).sent == [ids[0]]
        assert server.message_ids()[rows[ids[0]].message_id] == 2  # asked for: sent again
    assert _rows(app)[ids[0]].status == OutboxStatus.SENT


@pytest.mark.parametrize("fault", ["drop_at_mail", "drop_at_rcpt"])
def test_drop_before_data_stays_transient_and_arrives_once(smtp_app, fault):
    server = Server(fault, faults=1)
    app = smtp_app(server)
    ids = _insert(app, [{} for _ in range(3)])

    first = dispatch_outbox(app, now=T0)
    rows = _rows(app)
    assert first.retried == [ids[0]] and first.sent == [] and first.uncertain == []
    assert rows[ids[0]].status == OutboxStatus.PENDING
    assert rows[ids[0]].next_attempt_at > T0 and "tijdelijk" in rows[ids[0]].last_error
    assert server.arrived == []

    later = dispatch_outbox(app, now=T0 + timedelta(minutes=2))
    assert sorted(later.sent) == ids
    assert server.message_ids() == Counter({r.message_id: 1 for r in _rows(app).values()})


# --- 2. odd addresses and unexpected faults fail one message, never the batch ---------------------


def _odd_rows() -> list[dict[str, Any]]:
    return [
        {"recipient": "a@example.nl"},
        {"recipient": JOSE},
        {"recipient": "b@example.nl"},
        {"recipient": "c@example.nl", "cc": [JOSE]},
        {"recipient": IDN},
    ]


def test_non_ascii_addresses_in_eml(app, settings):
    ids = _insert(app, _odd_rows())
    report = dispatch_outbox(app, now=T0)
    rows = _rows(app)
    assert sorted(report.sent) == ids, {r.id: r.last_error for r in rows.values()}
    by_id = {}
    for path in settings.mail_dir.glob("*.eml"):
        msg = _parse(path.read_bytes())
        by_id[msg["Message-ID"]] = msg
    assert [a.addr_spec for a in by_id[rows[ids[1]].message_id]["To"].addresses] == [JOSE]
    assert [a.addr_spec for a in by_id[rows[ids[3]].message_id]["Cc"].addresses] == [JOSE]
    assert [a.addr_spec for a in by_id[rows[ids[4]].message_id]["To"].addresses] == [IDN_ASCII]
    assert list(settings.mail_dir.glob("*.tmp")) == []


def test_non_ascii_local_part_without_smtputf8_fails_that_message_only(smtp_app):
    server = Server()
    app = smtp_app(server, smtputf8=False)
    ids = _insert(app, _odd_rows())

    report = dispatch_outbox(app, now=T0)
    rows = _rows(app)
    assert sorted(report.sent) == [ids[0], ids[2], ids[4]]
    assert sorted(report.failed) == [ids[1], ids[3]]
    for i in (ids[1], ids[3]):
        assert rows[i].status == OutboxStatus.FAILED
        assert "SMTPUTF8" in rows[i].last_error and JOSE in rows[i].last_error
    assert server.message_ids() == Counter({rows[i].message_id: 1 for i in report.sent})
    envelopes = {_parse(data)["Message-ID"]: rcpts for _, rcpts, data in server.arrived}
    assert envelopes[rows[ids[4]].message_id] == [IDN_ASCII]


def test_non_ascii_local_part_goes_out_with_smtputf8(smtp_app):
    server = Server()
    app = smtp_app(server, smtputf8=True)
    ids = _insert(app, _odd_rows())

    report = dispatch_outbox(app, now=T0)
    assert sorted(report.sent) == ids
    rows = _rows(app)
    arrived = {_parse(data)["Message-ID"]: (opts, rcpts, _parse(data))
               for opts, rcpts, data in server.arrived}
    opts, rcpts, msg = arrived[rows[ids[1]].message_id]
    assert "SMTPUTF8" in [o.upper() for o in opts] and rcpts == [JOSE]
    assert [a.addr_spec for a in msg["To"].addresses] == [JOSE]
    assert arrived[rows[ids[3]].message_id][1] == ["c@example.nl", JOSE]
    opts, rcpts, _ = arrived[rows[ids[0]].message_id]
    assert rcpts == ["a@example.nl"] and "SMTPUTF8" not in [o.upper() for o in opts]


@pytest.mark.parametrize("delivery", ["eml", "smtp"])
def test_unexpected_fault_in_one_message_fails_only_that_one(app, settings, smtp_app, delivery):
    server = Server()
    target = smtp_app(server) if delivery == "smtp" else app
    # Garbage a database can hold: a number among the cc addresses, an address without '@'.
    ids = _insert(target, [{}, {"cc": [42]}, {"recipient": "geen-adres"}, {}])

    report = dispatch_outbox(target, now=T0)
    rows = _rows(target)
    assert sorted(report.sent) == [ids[0], ids[3]]
    assert sorted(report.failed) == [ids[1], ids[2]]
    assert all(r.status != OutboxStatus.SENDING for r in rows.values())
    assert rows[ids[1]].last_error.startswith("blijvend: ")
    assert "geen-adres" in rows[ids[2]].last_error
    if delivery == "smtp":
        assert server.message_ids() == Counter({rows[i].message_id: 1 for i in report.sent})


# --- 3. a full mail folder ------------------------------------------------------------------------


@pytest.fixture
def tiny_mail_dir(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root; skipped with the reason otherwise)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_mail_folder_backs_off_cleanly(settings, monkeypatch, tiny_mail_dir):
    monkeypatch.setenv("VEILIGHEID_MAIL_DIR", str(tiny_mail_dir))
    app = bootstrap(Settings())
    try:
        big = "x" * 18_000  # ≈ 25 KiB (7 pages) per .eml: two fit in 16 pages, the third not
        ids = _insert(app, [{"text_body": big} for _ in range(3)])

        result = cli_run("run", "--now", "2023-10-10T08:05")
        # Exit 0, or the "mail deferred" code where the operations work has it: no traceback.
        assert isinstance(result.exception, SystemExit | None), result.exception
        assert result.exit_code in (0, 4) and "Traceback" not in result.output, result.output
        assert "2 verstuurd, 1 later opnieuw" in result.output
        rows = _rows(app)
        assert [rows[i].status for i in ids] == [OutboxStatus.SENT] * 2 + [OutboxStatus.PENDING]
        full = rows[ids[2]]
        assert full.next_attempt_at > T0 and full.attempts == 1
        assert "schrijven" in full.last_error and "vol" in full.last_error
        assert sorted(p.suffix for p in tiny_mail_dir.iterdir()) == [".eml"] * 2

        # Someone moves the delivered files away; the back-off ends; the rest goes out once.
        for path in tiny_mail_dir.iterdir():
            path.unlink()
        later = dispatch_outbox(app, now=T0 + timedelta(minutes=2))
        assert later.sent == [ids[2]]
        assert [p.name for p in tiny_mail_dir.iterdir()] == [rows[ids[2]].file_name]
    finally:
        app.close()


# --- 4. control characters never reach a header or an .ics line ----------------------------------

BREAKS = "\r\n\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
NASTY = st.sampled_from(list(BREAKS) + ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\r\n", "=?",
                                       "?=", " ", "é", "€", "😀", ";", ",", "\\", ":"])
TEXT = st.lists(st.characters(exclude_categories=("Cs",)) | NASTY, max_size=120).map("".join)
# Long plain ASCII too: it is folded at spaces rather than encoded.
WORDS = st.text(alphabet=st.sampled_from("abcXYZ09:-. \x0b"), max_size=300)


def _forbidden(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def clean_header(value: str) -> str:
    """What a header may carry of `value`: line breaks and tabs as a space, other controls gone."""
    value = value.replace("\r\n", "\n")
    return "".join(" " if c in BREAKS else "" if _forbidden(c) else c for c in value)


def clean_ics(value: str) -> str:
    """What an .ics TEXT value reads back as: a line break is kept (escaped as \\n)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c if c == "\n" else " " if c in BREAKS else "" if _forbidden(c) else c
                   for c in value)


def _row(subject: str, key: str, ics: str | None = None) -> OutboxMessage:
    return OutboxMessage(
        key=key, recipient="a@example.nl", cc=["b@example.nl"], subject=subject,
        text_body="tekst", html_body="<p>tekst</p>", ics=ics,
    )


@hsettings(max_examples=200, deadline=None)
@given(subject=TEXT | WORDS, key=TEXT | WORDS, linesep=st.sampled_from(["\r\n", "\n"]))
def test_headers_carry_no_control_characters(subject: str, key: str, linesep: str) -> None:
    data = build_message(_row(subject, key), "veiligheid-flow@example.nl", linesep=linesep)
    head = data.split((linesep * 2).encode(), 1)[0].decode("utf-8")
    for number, line in enumerate(head.split(linesep)):
        assert not any(_forbidden(c) for c in line), (number, line)
        assert re.match(r"[A-Za-z-]+: | ", line), (number, line)  # a header or its fold
        assert len(line.encode()) <= 100  # well under the 998 of RFC 5322
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == clean_header(subject)
    assert msg["X-Veiligheid-Key"] == clean_header(key)
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.nl"]


@hsettings(max_examples=150, deadline=None)
@given(
    items=st.lists(
        st.tuples(TEXT, TEXT, st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)),
                  TEXT),
        max_size=4,
    )
)
def test_ics_lines_carry_no_control_characters(items: list[tuple[str, str, date, str]]) -> None:
    stamp = datetime(2023, 10, 2, 8, 0, tzinfo=UTC)
    text = deadlines_ics(items, stamp)
    assert text.endswith("\r\n")
    for line in text[:-2].split("\r\n"):
        assert not any(_forbidden(c) for c in line), line
        assert len(line.encode()) <= 75
    events = Calendar.from_ical(text.encode()).walk("VEVENT")
    assert len(events) == len(items)
    for event, (uid, summary, _, description) in zip(events, items, strict=True):
        assert str(event["uid"]) == f"{clean_ics(uid)}@veiligheid-flow"
        assert str(event["summary"]) == clean_ics(summary)
        assert str(event["description"]) == clean_ics(description)


def test_control_characters_in_the_database_arrive_cleaned(app, settings, smtp_app, backend):
    server = Server()
    smtp = smtp_app(server)
    nul = "\x00" if backend == "sqlite" else ""  # PostgreSQL text cannot hold NUL
    title = f"Brand\x0bin\x1cde{nul} wijk\u2028nu\r\nBcc: x@evil.example"
    ics = deadlines_ics([("t1", title, date(2023, 10, 20), "regel 1\x1d\nregel 2")], T0)
    for target in (app, smtp):
        _insert(target, [{"subject": title, "ics": ics, "key": f"{target is app}:\x0bk"}])
        assert len(dispatch_outbox(target, now=T0).sent) == 1
    (eml,) = settings.mail_dir.glob("*.eml")
    for msg in (_parse(eml.read_bytes()), *server.messages()):
        assert msg["Subject"] == "Brand in de wijk nu Bcc: x@evil.example"
        assert msg["Bcc"] is None
        (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        (event,) = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
        assert str(event["summary"]) == "Brand in de wijk nu\nBcc: x@evil.example"
        assert str(event["description"]) == "regel 1 \nregel 2"
    assert server.arrived[0][1] == ["p0@example.nl"]
