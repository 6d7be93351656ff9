"""Delivery: SMTP over one reused connection (stdlib smtplib), or .eml files.

Messages are built here, from the outbox row alone: multipart/alternative (text and HTML, both
base64 UTF-8), wrapped in multipart/mixed with the .ics attachment when there is one. The
builder writes the MIME text directly instead of going through `email.generator` (that took
about 1 ms per message, more than the SMTP exchange on loopback); the result is parsed back by
the standard library in the tests.
"""

from __future__ import annotations

import base64
import contextlib
import os
import smtplib
import ssl
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Protocol

from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.settings import Settings

SENDER_NAME = "Veiligheid OOV"


class TransientError(Exception):
    """Try again later (connection refused, 4xx)."""


class PermanentError(Exception):
    """Will not succeed (5xx, bad address)."""


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"regeleinde in een kopregel: {value!r}")
    return value


def _header_value(value: str, linesep: str) -> str:
    """A header value that is safe on the wire: no line breaks; non-ASCII as RFC 2047 encoded
    words (base64, at most 75 characters each, one per folded line). Not for addresses."""
    if _one_line(value).isascii():
        return value
    words, chunk = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:  # 45 bytes → 60 base64 characters + 12 = 72
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return (linesep + " ").join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _base64_part(content_type: str, text: str, linesep: str, extra: str = "") -> list[str]:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return [
        f"Content-Type: {content_type}",
        "Content-Transfer-Encoding: base64",
        *([extra] if extra else []),
        "",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
    ]


def build_message(row: OutboxMessage, sender: str, *, linesep: str = "\r\n") -> bytes:
    """The complete message (headers and MIME body) as bytes with `linesep` line ends."""
    # Boundaries contain '_' and '=', which base64 never produces, so they cannot occur in a part.
    alt, mixed = f"=_vf-alt-{row.key_digest[:20]}", f"=_vf-mix-{row.key_digest[:20]}"
    headers = [
        f"From: {formataddr((SENDER_NAME, _one_line(sender)))}",
        f"To: {_one_line(row.recipient)}",
        *([f"Cc: {_one_line(', '.join(row.cc))}"] if row.cc else []),
        f"Subject: {_header_value(row.subject, linesep)}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {row.message_id}",
        f"X-Veiligheid-Key: {_header_value(row.key, linesep)}",
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
    return linesep.join(lines).encode("ascii")


class Transport(Protocol):
    def send(self, row: OutboxMessage) -> None: ...
    def already_delivered(self, row: OutboxMessage) -> bool | None: ...
    def close(self) -> None: ...


class FileTransport:
    """Writes one .eml per message, named by its outbox key (atomic rename: all or nothing)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder, self.sender = folder, sender
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, row: OutboxMessage) -> None:
        target = self.folder / row.file_name
        if target.exists():
            return  # delivered before a crash: nothing to do
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(build_message(row, self.sender, linesep="\n"))
        os.replace(tmp, target)

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return (self.folder / row.file_name).exists()

    def close(self) -> None:
        return None


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS (hostname and certificate); a private CA via VEILIGHEID_SMTP_CA_FILE."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


class SmtpTransport:
    """One SMTP connection for the whole batch, opened at the first message.

    Nothing is ever resent by the transport itself (a resend after a lost reply could deliver
    twice; see README "Exactly once"). A failure to connect, start TLS or log in is transient:
    the message is not at fault, the batch stops and the outbox retries with back-off.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = settings.mail_from
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        context = tls_context(s) if (s.smtp_tls or s.smtp_starttls) else None
        if s.smtp_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except BaseException:
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        return smtp

    def send(self, row: OutboxMessage) -> None:
        data = build_message(row, self.sender)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise TransientError(_describe(exc)) from exc
        try:
            self._smtp.sendmail(self.sender, [row.recipient, *row.cc], data)
        except smtplib.SMTPRecipientsRefused as exc:
            # All refused; a 421 among them means the server is closing: try again later.
            if any(not 500 <= code < 600 for code, _ in exc.recipients.values()):
                self.close()
                raise TransientError(_describe(exc)) from exc
            raise PermanentError(_describe(exc)) from exc  # smtplib has reset the session
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(_describe(exc)) from exc  # session reset, connection kept
            self.close()
            raise TransientError(_describe(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientError(_describe(exc)) from exc

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return None  # SMTP cannot tell; see README "Exactly once"

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        with contextlib.suppress(Exception):
            smtp.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error!r}"
    return str(exc) or type(exc).__name__


def make_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir, settings.mail_from)
