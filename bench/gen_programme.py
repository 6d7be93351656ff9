"""Generate a synthetic programme file for the scale benchmark.

Same schema as config/: the example's header, people, portfolio holders, council meetings and
council items are copied; the programme period becomes two years (2023-01-01 … 2024-12-31) and
the themes/activities are generated: N activities, each a weekly RRULE on one weekday, so
N × ~104 tasks. Every 10th activity is statutory, every 7th a monitor, the first 12 are linked
to the example's council items; owners and backups rotate over the 13 people.

    .venv/bin/python bench/gen_programme.py 500 -o /tmp/bench-500.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml
from _common import EXAMPLE  # bench/ is on sys.path when run as a script

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
THEME_KINDS = ("district", "local", "other")


def generate(activities: int, *, themes: int = 10, code: str | None = None) -> dict[str, Any]:
    base = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    people = [p["id"] for p in base["people"]]
    holders = [h["id"] for h in base["portfolio_holders"]]
    items = [c["code"] for c in base["council_items"]]
    doc: dict[str, Any] = {
        key: base[key]
        for key in (
            "municipality",
            "plan",
            "defaults",
            "non_working_days",
            "people",
            "portfolio_holders",
            "council_meetings",
            "council_items",
        )
    }
    doc["programme"] = {
        "code": code or f"BENCH-{activities}",
        "name": f"Synthetisch programma ({activities} activiteiten, wekelijks)",
        "start": base["plan"]["start"].replace(year=2023, month=1, day=1),
        "end": base["programme"]["end"],
    }
    per_theme = -(-activities // themes)
    theme_docs = []
    n = 0
    for t in range(themes):
        owner = people[t % len(people)]
        backup = people[(t + 1) % len(people)]
        theme = {
            "code": f"T{t + 1:02d}",
            "name": f"Synthetisch thema {t + 1}",
            "kind": THEME_KINDS[t % len(THEME_KINDS)],
            "council_priority": t % 2 == 0,
            "holders": sorted({holders[0], holders[(t % (len(holders) - 1)) + 1]}),
            "owner": owner,
            "backup": backup,
            "partners": ["Politie Midden-Nederland"],
            "budget": [
                {"year": 2023, "amount": 10000 + 500 * t, "description": "Uitvoering"},
                {"year": 2024, "amount": 11000 + 500 * t, "description": "Uitvoering"},
            ],
            "activities": [],
        }
        for _ in range(per_theme):
            if n >= activities:
                break
            activity: dict[str, Any] = {
                "code": f"S{n + 1:05d}",
                "title": f"Synthetische activiteit {n + 1} (wekelijks)",
                "repeat": {"rrule": f"FREQ=WEEKLY;BYDAY={WEEKDAYS[n % len(WEEKDAYS)]}"},
                "owner": people[n % len(people)],
                "backup": people[(n + 3) % len(people)],
                "effort_hours": float(1 + n % 8),
            }
            if n % 10 == 0:
                activity["statutory"] = "Synthetische wettelijke grondslag"
            if n % 7 == 0:
                activity["kind"] = "monitor"
            if n < len(items):
                activity["council_item"] = items[n]
            theme["activities"].append(activity)
            n += 1
        theme_docs.append(theme)
    doc["themes"] = theme_docs
    return doc


def write(activities: int, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(generate(activities), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("activities", type=int)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    write(args.activities, args.output)
    print(f"{args.output}: {args.activities} activiteiten")


if __name__ == "__main__":
    main()
