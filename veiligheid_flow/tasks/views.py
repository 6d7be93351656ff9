"""How tasks are shown: as plain dicts (JSON, messages), with the rank and its reason (the
CLI's table is entrypoints/cli/tables.py)."""

from __future__ import annotations

from typing import Any

from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.tasks.service import STATUS_LABELS

TIER_LABELS = {1: "wettelijk", 2: "termijnagenda", 3: "raadsprioriteit", 4: "overig"}


def rank_reason(task: Task) -> str:
    steps = (task.decision or {}).get("steps", [])
    return next((s["reason"] for s in steps if s["table"] == "priority"), "")


def state_label(task: Task) -> str:
    if task.paused and task.open:
        return "gepauzeerd"
    return STATUS_LABELS[TaskStatus(task.status)]


def task_dict(task: Task, rank: int | None = None) -> dict[str, Any]:
    return {
        "rank": rank,
        "id": task.id,
        "title": task.title,
        "theme": task.theme.code,
        "status": TaskStatus(task.status).value,
        "paused": task.paused,
        "tier": task.tier,
        "tier_label": TIER_LABELS.get(task.tier, f"klasse {task.tier}"),
        "statutory": task.statutory,
        "legal_basis": task.legal_basis,
        "due_date": task.due_date.isoformat(),
        "planned_due": task.planned_due.isoformat(),
        "effort_hours": task.effort_hours,
        "owner": task.owner.email,
        "backup": task.backup.email,
        "responsible": task.responsible.email,
        "council_item": task.council_item.code if task.council_item else None,
        "flags": list(task.flags),
        "reason": rank_reason(task),
        "note": task.note,
    }
