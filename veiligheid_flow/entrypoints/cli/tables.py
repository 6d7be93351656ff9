"""Rich tables of the views the application layer returns (no ORM rows reach the CLI)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from veiligheid_flow.app.views import FLAGS, TIER_LABELS, TaskView


def task_table(tasks: Sequence[TaskView], title: str) -> Table:
    """Tasks in the order of work: rank, deadline, tier, state, who, signals."""
    table = Table(title=title, show_lines=False)
    for name in (
        "#",
        "id",
        "deadline",
        "taak",
        "thema",
        "klasse",
        "status",
        "verantwoordelijk",
        "achtervang",
        "signalen",
    ):
        table.add_column(name, overflow="fold")
    for rank, task in enumerate(tasks, 1):
        table.add_row(
            str(rank),
            str(task.id),
            task.due_date.isoformat(),
            task.title,
            task.theme,
            TIER_LABELS.get(task.tier, str(task.tier)),
            task.status_label,
            task.responsible,
            task.stand_in,
            ", ".join(FLAGS.get(f, f) for f in task.flags),
        )
    return table
