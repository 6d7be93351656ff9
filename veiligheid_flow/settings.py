"""Settings from the environment and an optional `.env` (prefix VEILIGHEID_).

Nothing is read at import time: call `Settings()` (via `bootstrap`) when a command starts.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_ca_file: Path | None = Field(default=None, description="CA bundle for a private CA")
    smtp_timeout: float = 10.0
    max_send_attempts: int = 5
