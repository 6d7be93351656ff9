"""Crisis events for a Prefect server: the `crisis-response` deployment is triggered by them."""

from __future__ import annotations

import os


def emit_crisis_event(crisis_id: int, event: str) -> bool:
    """Emit `veiligheid.crisis.<event>` when a Prefect server is configured (PREFECT_API_URL).

    Without one nothing is emitted: the CLI never starts Prefect's temporary server, where the
    event would be lost anyway (the outbox dispatch of `run`/`serve` sends the notices then).
    Returns whether an event was emitted.
    """
    if not os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.events import emit_event

    emitted = emit_event(
        event=f"veiligheid.crisis.{event}",
        resource={"prefect.resource.id": f"veiligheid.crisis.{crisis_id}"},
    )
    return emitted is not None
