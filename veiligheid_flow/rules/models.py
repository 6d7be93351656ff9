"""Up to when the stored decisions are valid, and under which rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from veiligheid_flow.db import Base, UTCDateTime


class EvaluationMark(Base):
    """One row: every open task's stored decision is the one the rules give at `at`, with the
    rule files whose digest is `rules_digest`. Evaluating locks this row: one at a time."""

    __tablename__ = "evaluation_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    rules_digest: Mapped[str] = mapped_column(String(64))
