"""Mail goes out through `emails` (its SMTP backend and DKIM signer): with a key configured,
every message a real SMTP server receives carries a DKIM signature that verifies against the
public key; incomplete or unusable DKIM settings are refused in one Dutch line."""

from __future__ import annotations

import base64
import smtplib
import threading
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, ROOT, at
from tests.test_smtp_delivery import _free_port
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.transport import OutboxBackend, SmtpTransport
from veiligheid_flow.settings import Settings


class Raw:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        with self.lock:
            self.messages.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def server() -> Iterator[tuple[Raw, int]]:
    handler, port = Raw(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_every_message_is_dkim_signed_and_verifies(database_url, tmp_path, key, server):
    handler, port = server
    path, record = key
    settings = Settings(
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        rules=ROOT / "rules",
        programme=EXAMPLE,
        smtp_host="127.0.0.1",
        smtp_port=port,
        dkim_domain="example.nl",
        dkim_selector="oov2026",
        dkim_key_file=path,
    )
    app = bootstrap(settings)
    try:
        commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
        _, report = run_due(app, now=at("2023-10-10T08:05"))
    finally:
        app.close()
    assert report.sent and len(handler.messages) == len(report.sent)

    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    for raw in handler.messages:
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dns)
    assert set(asked) == {b"oov2026._domainkey.example.nl."}
    tampered = handler.messages[0].replace(b"Subject: ", b"Subject: X", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_the_transport_is_emails_backend_without_resend(tmp_path):
    transport = SmtpTransport(Settings(smtp_host="127.0.0.1", mail_dir=tmp_path))
    assert isinstance(transport.backend, OutboxBackend)
    assert transport.backend.fail_silently is False
    calls = []

    def once() -> None:
        calls.append(1)
        raise smtplib.SMTPServerDisconnected("weg")

    with pytest.raises(smtplib.SMTPServerDisconnected):
        transport.backend.retry_on_disconnect(once)()
    assert calls == [1]
    assert transport.signer is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dkim_domain": "example.nl"}, "horen bij elkaar"),
        (
            {"dkim_domain": "example.nl", "dkim_selector": "s", "dkim_key_file": "/nonexistent"},
            "geen bruikbare PEM-sleutel",
        ),
    ],
)
def test_incomplete_or_unusable_dkim_settings_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**fields)


def test_the_cli_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("VEILIGHEID_DATABASE_URL", f"sqlite:///{tmp_path / 'v.db'}")
    monkeypatch.setenv("VEILIGHEID_DKIM_DOMAIN", "example.nl")
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "Fout: instellingen ongeldig: VEILIGHEID_DKIM_DOMAIN, _DKIM_SELECTOR en "
        "_DKIM_KEY_FILE horen bij elkaar: geef ze alle drie of geen"
    ], result.output
