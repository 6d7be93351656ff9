"""Delivery: SMTP through the `emails` library (one connection per batch), or .eml files."""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import emails
from emails.backend.smtp import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL

from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.settings import Settings


class TransientError(Exception):
    """Try again later (connection refused, 4xx)."""


class PermanentError(Exception):
    """Will not succeed (5xx, bad address)."""


def build_message(row: OutboxMessage, sender: str) -> emails.Message:
    message = emails.Message(
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        mail_from=("Veiligheid OOV", sender),
        mail_to=[row.recipient],
        cc=list(row.cc) or None,
        message_id=row.message_id,
        headers={"X-Veiligheid-Key": row.key},
    )
    if row.ics:
        message.attach(
            data=row.ics.encode(),
            filename="deadline.ics",
            mime_type="text/calendar; charset=utf-8; method=PUBLISH",
        )
    return message


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
        tmp.write_text(build_message(row, self.sender).as_string(), encoding="utf-8")
        os.replace(tmp, target)

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return (self.folder / row.file_name).exists()

    def close(self) -> None:
        return None


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS (hostname and certificate); a private CA via VEILIGHEID_SMTP_CA_FILE."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


class _Client(SMTPClientWithResponse):
    """`emails` calls starttls() without a context, which does not verify the server."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        self._verified = kwargs.pop("context")
        super().__init__(parent, **kwargs)

    def starttls(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["context"] = self._verified
        return super().starttls(*args, **kwargs)


class _SSLClient(SMTPClientWithResponse_SSL):
    """Implicit TLS with a verifying context (`emails` would use an unverified one)."""

    def __init__(self, **kwargs: Any) -> None:
        self._verified = kwargs.pop("context")
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        self.context = self._verified
        return super()._get_socket(host, port, timeout)


class _NoResendBackend(SMTPBackend):
    """`emails` resends once by itself after a disconnect; that could send twice. Not here."""

    connection_cls = _Client
    connection_ssl_cls = _SSLClient

    def retry_on_disconnect(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.sender = settings.mail_from
        self.backend = _NoResendBackend(
            host=settings.smtp_host,
            port=settings.smtp_port,
            ssl=settings.smtp_tls,
            tls=settings.smtp_starttls,
            user=settings.smtp_user,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
            fail_silently=False,
            context=tls_context(settings),
        )

    def send(self, row: OutboxMessage) -> None:
        message = build_message(row, self.sender)
        try:
            response = self.backend.sendmail(
                from_addr=self.sender, to_addrs=[row.recipient, *row.cc], msg=message
            )
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            self.backend.close()
            kind = PermanentError if 500 <= exc.smtp_code < 600 else TransientError
            raise kind(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.backend.close()
            raise TransientError(str(exc) or type(exc).__name__) from exc
        if response is not None and not response.success:
            raise TransientError(str(response.error or response.status_code))

    def already_delivered(self, row: OutboxMessage) -> bool | None:
        return None  # SMTP cannot tell; see README "Exactly once"

    def close(self) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.backend.close()


def make_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir, settings.mail_from)
