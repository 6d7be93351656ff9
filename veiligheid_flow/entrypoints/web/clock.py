"""The web app's clock: the real one, or a fixed moment (`veiligheid web --now`, `make run
NOW=…`) that every page then shows. The edge reads the clock; the layers below get `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class WebClock:
    fixed: datetime | None = None

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC)
