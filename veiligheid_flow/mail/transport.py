"""Delivery: SMTP over one reused connection (`emails`' SMTP backend), or .eml files.

Messages are built here, from the outbox row alone: multipart/alternative (text and HTML, both
base64 UTF-8), wrapped in multipart/mixed with the .ics attachment when there is one. The
builder writes the MIME text directly instead of going through `email.generator` (that took
about 1 ms per message, more than the SMTP exchange on loopback); the result is parsed back by
the standard library in the tests. Header text and addresses pass `mail/headers.py`.

`emails` holds the connection (its SMTPBackend, one client per batch) and signs with DKIM when
a key is configured; its resend-on-disconnect is switched off and its TLS made to verify (its
own classes start TLS without a context). The exchange itself stays step by step here:
SMTP outcomes (README "Exactly once"): every failure before the end of DATA has been written
(connect, TLS, login, MAIL, RCPT, the DATA command, writing the message) is transient or
permanent by its reply; once the final "CRLF . CRLF" is written, a missing or garbled answer
(a lost connection, SMTP_TIMEOUT) is UncertainError: the server may have the message.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from emails.backend.smtp import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse
from emails.signers import DKIMSigner

from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.mail.headers import AddressError, header_value, named_address, wire_address
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.settings import Settings


@dataclass(frozen=True)
class Sender:
    """Who a message is from, and where answers go (VEILIGHEID_MAIL_FROM, _FROM_NAME,
    _REPLY_TO)."""

    address: str
    name: str = "Veiligheid OOV"
    reply_to: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Sender:
        return cls(settings.mail_from, settings.mail_from_name, settings.mail_reply_to)
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class TransientError(Exception):
    """Try again later (connection refused, 4xx, a full mail folder)."""


class PermanentError(Exception):
    """Will not succeed (5xx, bad address)."""


class UncertainError(Exception):
    """The whole message went out but the server's answer to it did not come back: it may have
    been accepted. Never resent automatically (the outbox marks it uncertain)."""


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the wire: envelope and bytes."""

    sender: str
    recipients: list[str]
    data: bytes
    smtputf8: bool  # an address with a non-ASCII local part (RFC 6531/6532)

    @property
    def addresses(self) -> list[str]:
        return [self.sender, *self.recipients]


def _base64_part(content_type: str, text: str, linesep: str, extra: str = "") -> list[str]:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return [
        f"Content-Type: {content_type}",
        "Content-Transfer-Encoding: base64",
        *([extra] if extra else []),
        "",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
    ]


def prepare(row: OutboxMessage, sender: str | Sender, *, linesep: str = "\r\n") -> Outgoing:
    """The envelope and the complete message (headers and MIME body) with `linesep` line ends.
    Raises PermanentError for an address that cannot go out."""
    if isinstance(sender, str):
        sender = Sender(sender)
    try:
        source = wire_address(sender.address)
        to = wire_address(row.recipient)
        cc = [wire_address(a) for a in row.cc]
        reply_to = wire_address(sender.reply_to) if sender.reply_to else None
    except AddressError as exc:
        raise PermanentError(str(exc)) from exc
    names = row.names or {}
    copied = [
        named_address(names.get(a), w.text, linesep) for a, w in zip(row.cc, cc, strict=True)
    ]
    # Boundaries contain '_' and '=', which base64 never produces, so they cannot occur in a part.
    alt, mixed = f"=_vf-alt-{row.key_digest[:20]}", f"=_vf-mix-{row.key_digest[:20]}"
    headers = [
        f"From: {named_address(sender.name, source.text, linesep)}",
        *([f"Reply-To: {reply_to.text}"] if reply_to else []),
        f"To: {named_address(names.get(row.recipient), to.text, linesep)}",
        *([f"Cc: {(',' + linesep + ' ').join(copied)}"] if copied else []),
        f"Subject: {header_value(row.subject, linesep)}",
        f"Date: {format_datetime(datetime.now(LOCAL_TZ))}",  # when it goes out; numeric zone
        f"Message-ID: {row.message_id}",
        # Automatic mail (RFC 3834): no out-of-office replies, no auto-forward loops.
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
        f"X-Veiligheid-Key: {header_value(row.key, linesep)}",
        "MIME-Version: 1.0",
    ]
    alternative = [
        f"--{alt}",
        *_base64_part('text/plain; charset="utf-8"', row.text_body, linesep),
        f"--{alt}",
        *_base64_part('text/html; charset="utf-8"', row.html_body, linesep),
        f"--{alt}--",
        "",
    ]
    if row.ics:
        lines = [
            *headers,
            f'Content-Type: multipart/mixed; boundary="{mixed}"',
            "",
            f"--{mixed}",
            f'Content-Type: multipart/alternative; boundary="{alt}"',
            "",
            *alternative,
            f"--{mixed}",
            *_base64_part(
                'text/calendar; charset="utf-8"; method=PUBLISH; name="deadline.ics"',
                row.ics,
                linesep,
                'Content-Disposition: attachment; filename="deadline.ics"',
            ),
            f"--{mixed}--",
            "",
        ]
    else:
        lines = [
            *headers,
            f'Content-Type: multipart/alternative; boundary="{alt}"',
            "",
            *alternative,
        ]
    everyone = [to, *cc]
    return Outgoing(
        sender=source.text,
        recipients=[a.text for a in everyone],
        # ASCII but for a non-ASCII local part, which is raw UTF-8 (RFC 6532).
        data=linesep.join(lines).encode("utf-8"),
        smtputf8=any(a.needs_smtputf8 for a in (source, *everyone)),
    )


def build_message(row: OutboxMessage, sender: str | Sender, *, linesep: str = "\r\n") -> bytes:
    """The complete message (headers and MIME body) as bytes with `linesep` line ends."""
    return prepare(row, sender, linesep=linesep).data


class Transport(Protocol):
    def send(self, row: OutboxMessage) -> None: ...
    def already_delivered(self, row: OutboxMessage) -> bool | None: ...
    def close(self) -> None: ...


class FileTransport:
    """Writes one .eml per message, named by its outbox key (atomic rename: all or nothing).

    A failed write (a full or read-only mail folder) removes its .tmp file and is transient:
    the message is not at fault, the batch stops and the outbox retries with back-off."""

    def __init__(self, folder: Path, sender: str | Sender) -> None:
        self.folder, self.sender = folder, sender
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, row: OutboxMessage) -> None:
        target = self.folder / row.file_name
        if target.exists():
            return  # delivered before a crash: nothing to do
        data = build_message(row, self.sender, linesep="\n")
        tmp = target.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise TransientError(_write_failure(self.folder, exc)) from exc

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return (self.folder / row.file_name).exists()

    def close(self) -> None:
        return None


def _write_failure(folder: Path, exc: OSError) -> str:
    reason = {errno.ENOSPC: "schijf vol", errno.EDQUOT: "quotum vol"}.get(
        exc.errno or 0, exc.strerror or type(exc).__name__
    )
    return f"schrijven naar mailmap {folder} mislukt: {reason}"


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS (hostname and certificate); a private CA via VEILIGHEID_SMTP_CA_FILE."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


class _VerifiedClient(SMTPClientWithResponse):
    """emails' client, starting TLS with the backend's verifying context."""

    def initialize(self) -> None:
        self.ehlo()
        if self.tls:
            self.starttls(context=self.parent.context)
            self.ehlo()
        if self.user:
            self.login(user=self.user, password=self.password)


class _VerifiedSSLClient(_VerifiedClient):
    """Implicit TLS (port 465) with the verifying context, connecting once."""

    default_port = smtplib.SMTP_SSL_PORT

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        plain = super()._get_socket(host, port, timeout)
        return self.parent.context.wrap_socket(plain, server_hostname=self._host)


class OutboxBackend(SMTPBackend):
    """`emails`' SMTP backend as the outbox needs it: errors raised (never `fail_silently`),
    TLS that verifies, and no resend on a lost connection (a resend after the end of DATA could
    deliver twice: the outbox decides, see README "Exactly once")."""

    connection_cls = _VerifiedClient
    connection_ssl_cls = _VerifiedSSLClient

    def __init__(self, settings: Settings) -> None:
        s = settings
        self.context = tls_context(s) if (s.smtp_tls or s.smtp_starttls) else None
        super().__init__(
            ssl=s.smtp_tls,
            tls=s.smtp_starttls,
            fail_silently=False,
            host=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            user=s.smtp_user,
            password=s.smtp_password or "",
        )

    def retry_on_disconnect(self, func: Any) -> Any:
        return func  # never resend by itself


def dkim_signer(settings: Settings) -> DKIMSigner | None:
    """emails' DKIM signer for the configured key (settings check it is complete and valid)."""
    s = settings
    if not (s.dkim_domain and s.dkim_selector and s.dkim_key_file):
        return None
    return DKIMSigner(
        selector=s.dkim_selector,
        domain=s.dkim_domain,
        key=s.dkim_key_file.read_bytes(),
        include_headers=[b"from", b"to", b"cc", b"subject", b"date", b"message-id"],
    )


class SmtpTransport:
    """One SMTP connection for the whole batch (emails' backend), opened at the first message.

    Nothing is ever resent by the transport itself (a resend after a lost reply could deliver
    twice; see README "Exactly once"). A failure to connect, start TLS or log in is transient:
    the message is not at fault, the batch stops and the outbox retries with back-off.
    The exchange is done step by step (MAIL, RCPT, DATA) so that the moment the end of the data
    is written is known: a failure after it raises UncertainError, never TransientError.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = Sender.of(settings)
        self.backend = OutboxBackend(settings)
        self.signer = dkim_signer(settings)

    def _session(self) -> smtplib.SMTP:
        try:
            return self.backend.get_client()
        except (smtplib.SMTPException, OSError) as exc:
            self.backend._client = None  # a half-open client is not reused
            raise TransientError(_describe(exc)) from exc

    def send(self, row: OutboxMessage) -> None:
        out = prepare(row, self.sender)
        if self.signer is not None:
            out = replace(out, data=self.signer.sign_message_bytes(out.data))
        smtp = self._session()
        if out.smtputf8 and not smtp.has_extn("smtputf8"):
            raise PermanentError(
                "de mailserver ondersteunt geen SMTPUTF8, nodig voor een adres met niet-ASCII-"
                f"tekens vóór de @: {', '.join(a for a in out.addresses if not a.isascii())}"
            )
        try:
            _exchange(smtp, out)
        except UncertainError:
            self.close()
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            # All refused; a 421 among them means the server is closing: try again later.
            if any(not 500 <= code < 600 for code, _ in exc.recipients.values()):
                self.close()
                raise TransientError(_describe(exc)) from exc
            _reset(smtp)
            raise PermanentError(_describe(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                _reset(smtp)
                raise PermanentError(_describe(exc)) from exc  # session reset, connection kept
            self.close()
            raise TransientError(_describe(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientError(_describe(exc)) from exc
        except BaseException:
            self.close()  # an unknown state of the session: start the next one afresh
            raise

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return None  # SMTP cannot tell; see README "Exactly once"

    def close(self) -> None:
        smtp, self.backend._client = self.backend._client, None
        if smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        with contextlib.suppress(Exception):
            smtp.close()


def _exchange(smtp: smtplib.SMTP, out: Outgoing) -> None:
    """MAIL, RCPT, DATA as smtplib's `sendmail` does them, but with the point of no return
    marked: once `send` has written the whole message and its final dot, anything but an answer
    is UncertainError. (A failed `send` has not written all of it, so the server cannot have
    seen the end of the data: that failure stays transient.)"""
    code, reply = smtp.mail(out.sender, ["SMTPUTF8"] if out.smtputf8 else [])
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, out.sender)
    refused = {}
    for recipient in out.recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(out.recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = smtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = _LEADING_DOT.sub(b"..", out.data)
    smtp.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
    try:  # the point of no return: the server may have the message from here on
        code, reply = smtp.getreply()
    except Exception as exc:  # noqa: BLE001 - whatever it is, the message may have arrived
        lost = f"geen antwoord na het einde van het bericht: {_describe(exc)}"
        raise UncertainError(lost) from exc
    if 400 <= code < 600:  # the server answered: it did not take the message
        raise smtplib.SMTPDataError(code, reply)
    if code != 250:
        raise UncertainError(f"onverwacht antwoord na het einde van het bericht: {code} {reply!r}")


def _reset(smtp: smtplib.SMTP) -> None:
    """RSET after a refusal, keeping the connection (as `sendmail` does); errors surface later."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error!r}"
    return str(exc) or type(exc).__name__


def make_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir, Sender.of(settings))
