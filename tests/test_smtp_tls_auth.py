"""SMTP with STARTTLS or implicit TLS, login, certificate checks and permanent failures,
against a real aiosmtpd server with a self-signed certificate made for the test."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, dispatch_outbox, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.settings import Settings

USER, PASSWORD = "oov", "geheim"


class Inbox:
    def __init__(self, refuse_rcpt: str | None = None) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[bytes] = []
        self.refuse_rcpt = refuse_rcpt

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001
        if address == self.refuse_rcpt:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        )
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD)
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _serve(inbox: Inbox, certificate: tuple[Path, Path], implicit: bool) -> tuple[Controller, int]:
    port = _port()
    tls = _server_context(certificate)
    # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`; implicit TLS is TLS throughout.
    options = (
        {"ssl_context": tls, "auth_require_tls": False}
        if implicit
        else {"tls_context": tls, "require_starttls": True, "auth_require_tls": True}
    )
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        authenticator=inbox.authenticate,
        auth_required=True,
        **options,
    )
    controller.start()
    return controller, port


def _app(database_url: str, tmp_path: Path, port: int, **smtp: object) -> App:
    settings = Settings(
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        rules=ROOT / "rules",
        smtp_host="localhost",
        smtp_port=port,
        smtp_user=USER,
        smtp_password=PASSWORD,
        smtp_timeout=5.0,
        **smtp,
    )
    app = bootstrap(settings)
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_job(app, JOBS_BY_NAME["reminders"], now=at("2023-10-11T08:05"))
    return app


def _statuses(app: App) -> dict[str, OutboxStatus]:
    with app.sessions() as session:
        return {r.recipient: r.status for r in session.scalars(select(OutboxMessage))}


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


# The test server's implicit TLS is TLS throughout; aiosmtpd warns as it cannot tell.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_and_login_deliver_every_message(
    database_url, tmp_path, certificate, inbox, implicit
) -> None:
    controller, port = _serve(inbox, certificate, implicit)
    mode = {"smtp_tls": True} if implicit else {"smtp_starttls": True}
    app = _app(database_url, tmp_path, port, smtp_ca_file=certificate[0], **mode)
    try:
        report = dispatch_outbox(app, now=at("2023-10-11T08:06"))
    finally:
        controller.stop()
        app.close()

    assert report.sent and not report.failed and not report.retried
    assert len(inbox.messages) == len(report.sent)
    assert inbox.logins and set(inbox.logins) == {USER.encode()}


def test_an_unknown_certificate_is_refused_and_nothing_is_sent(
    database_url, tmp_path, certificate, inbox
) -> None:
    controller, port = _serve(inbox, certificate, implicit=False)
    app = _app(database_url, tmp_path, port, smtp_starttls=True)  # system CAs only
    try:
        report = dispatch_outbox(app, now=at("2023-10-11T08:06"))
        with app.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage)))
            errors = {r.last_error for r in rows if r.attempts}
    finally:
        controller.stop()
        app.close()

    assert not report.sent and report.retried
    assert inbox.messages == [] and inbox.logins == []
    assert all("certificate" in (e or "").lower() for e in errors), errors
    assert all(r.status == OutboxStatus.PENDING for r in rows)


def test_a_refused_recipient_is_a_permanent_failure_the_rest_goes_on(
    database_url, tmp_path, certificate, inbox
) -> None:
    controller, port = _serve(inbox, certificate, implicit=False)
    app = _app(database_url, tmp_path, port, smtp_starttls=True, smtp_ca_file=certificate[0])
    recipients = sorted(_statuses(app))
    assert len(recipients) >= 2
    inbox.refuse_rcpt = refused = recipients[0]
    try:
        report = dispatch_outbox(app, now=at("2023-10-11T08:06"))
        statuses = _statuses(app)
    finally:
        controller.stop()
        app.close()

    assert statuses[refused] == OutboxStatus.FAILED
    assert {s for r, s in statuses.items() if r != refused} == {OutboxStatus.SENT}
    assert len(report.failed) == 1 and len(inbox.messages) == len(report.sent)
