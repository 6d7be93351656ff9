"""Settings from the environment and an optional `.env` (prefix VEILIGHEID_).

Nothing is read at import time: call `Settings()` (via `bootstrap`) when a command starts.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated

from dkim import UnparsableKeyError
from dkim.crypto import parse_pem_private_key
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VEILIGHEID_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'veiligheid.db'}",
        description="SQLAlchemy URL; postgresql+psycopg://… selects PostgreSQL.",
    )
    rules: Path = Field(default=PROJECT_ROOT / "rules", description="Folder with rule tables.")
    programme: Path = Field(
        default=PROJECT_ROOT / "config" / "programma-huizen-2023-2024.yaml",
        description="Programme file the main job loads.",
    )
    timezone: str = "Europe/Amsterdam"
    send_time: time = time(8, 0)
    digest_weekday: int = Field(default=0, ge=0, le=6, description="0 = maandag")
    mail_dir: Path = PROJECT_ROOT / "var" / "mail"
    mail_from: str = "veiligheid-flow@example.nl"
    mail_from_name: str = "Veiligheid OOV"
    mail_reply_to: str | None = Field(default=None, description="The team's mailbox for answers")
    web_url: str | None = Field(
        default=None,
        description="Base URL of the web app (https://…); each task in a message links to it.",
    )
    web_secret: SecretStr | None = Field(
        default=None,
        description="Key for the session cookie and the links in mail; else WEB_SECRET_FILE.",
    )
    web_secret_file: Path = Field(
        default=PROJECT_ROOT / "var" / "web-secret",
        description="Where the key is kept when WEB_SECRET is not set (made once, mode 0600).",
    )
    action_link_hours: int = Field(
        default=72, ge=1, le=24 * 14, description="How long a 'Gereed melden' link in mail works."
    )
    # OpenID Connect (Entra ID, Keycloak): metadata from {issuer}/.well-known/openid-configuration
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect issuer URL")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_label: str = Field(default="Aanmelden met je organisatieaccount")
    oidc_scopes: str = Field(
        default="openid email profile", description="The ID token must carry `email`."
    )
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_ca_file: Path | None = Field(default=None, description="CA bundle for a private CA")
    smtp_timeout: float = 10.0
    # DKIM signing of outgoing SMTP mail (emails' DKIMSigner): all three, or none.
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_key_file: Path | None = Field(default=None, description="PEM private key for DKIM")
    max_send_attempts: int = 5
    sqlite_busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a SQLite database another holds."
    )
    # Operations (`veiligheid status`, admin alerts, retention): see README "Beheer".
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Functioneel beheer, comma-separated."
    )
    status_mail_stuck_minutes: int = Field(default=30, ge=1)
    status_job_grace_minutes: int = Field(
        default=60, ge=0, description="How long after its send time a job may still be running."
    )
    retention_mail_days: int = Field(default=365, ge=1, description="Bodies of sent mail.")
    retention_person_days: int = Field(
        default=730, ge=1, description="Personal data of people who left the programme."
    )

    @property
    def mail_domain(self) -> str:
        """The domain of MAIL_FROM: Message-IDs and calendar UIDs lie under it."""
        return self.mail_from.rpartition("@")[2].strip().lower() or "veiligheid-flow"

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("VEILIGHEID_WEB_URL moet beginnen met http:// of https://")
        return value.rstrip("/")

    @field_validator("oidc_issuer")
    @classmethod
    def _oidc_issuer(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("VEILIGHEID_OIDC_ISSUER moet beginnen met http:// of https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "VEILIGHEID_OIDC_ISSUER vraagt ook VEILIGHEID_OIDC_CLIENT_ID en _OIDC_CLIENT_SECRET"
            )
        if self.oidc_issuer and "openid" not in self.oidc_scopes.split():
            raise ValueError("VEILIGHEID_OIDC_SCOPES moet 'openid' bevatten")
        return self

    @model_validator(mode="after")
    def _dkim_complete(self) -> Settings:
        given = [self.dkim_domain, self.dkim_selector, self.dkim_key_file]
        if any(given) and not all(given):
            raise ValueError(
                "VEILIGHEID_DKIM_DOMAIN, _DKIM_SELECTOR en _DKIM_KEY_FILE horen bij elkaar: "
                "geef ze alle drie of geen"
            )
        if self.dkim_key_file:
            try:
                parse_pem_private_key(self.dkim_key_file.read_bytes())
            except (OSError, UnparsableKeyError) as exc:
                where = f"VEILIGHEID_DKIM_KEY_FILE {self.dkim_key_file}"
                raise ValueError(f"{where}: geen bruikbare PEM-sleutel") from exc
        return self

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        for address in value if isinstance(value, list) else ():
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"ongeldig e-mailadres {address!r} in ADMIN_EMAILS")
        return value
