"""Generate a region of municipalities, each with its own programme file (the schema of config/).

Every municipality gets a distinct name, programme code and e-mail domain, 13 staff, 6 portfolio
holders (a mayor and five aldermen: ~2,000 holders at 342 municipalities), 10 themes with
codes T01 … T10, 10 council items and 60 activities: 14 weekly, 13 fortnightly and 33 monthly,
6 of them statutory (10%), 4 linked to council items. Over 2023-01-01 … 2024-12-31 that is
about 2,930 task occurrences per municipality, so 342 municipalities hold about 1,000,000.
Which activity has which schedule and theme rotates per municipality, so themes differ in
size between municipalities. All municipalities share the same extra days off, so the
region has one working-day calendar (the limit queries in region_limits.py rely on that).

    .venv/bin/python bench/region_gen.py 4 -o /tmp/region     # four programme files
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

PERIOD = (date(2023, 1, 1), date(2024, 12, 31))
DAYS_OFF = [date(2023, 12, 27), date(2024, 5, 10), date(2024, 12, 27)]
ACTIVITIES = 60
SCHEDULES = ["weekly"] * 14 + ["fortnightly"] * 13 + ["monthly"] * 33
STATUTORY = 6
COUNCIL_LINKED = 4
COUNCIL_ITEMS = 10
THEMES = (
    ("Aanpak ondermijnende criminaliteit", "district", True),
    ("Digitale veiligheid", "district", True),
    ("Veerkrachtige wijken", "local", True),
    ("Zorg en veiligheid", "local", True),
    ("Jeugd en veiligheid", "local", True),
    ("Verkeersveiligheid", "other", False),
    ("Evenementen en horeca", "other", False),
    ("Crisisbeheersing en brandveiligheid", "other", False),
    ("Communicatie", "other", False),
    ("Informatieveiligheid", "other", False),
)
PEOPLE = (
    ("OOV1", "Adviseur OOV 1 (IVP-coördinator)", 36),
    ("OOV2", "Adviseur OOV 2 (ondermijning)", 36),
    ("OOV3", "Adviseur OOV 3 (zorg en jeugd)", 32),
    ("AOV", "Adviseur crisisbeheersing (AOV)", 36),
    ("JUR", "Jurist bijzondere wetten", 32),
    ("ZV", "Beleidsmedewerker zorg en veiligheid", 28),
    ("JGD", "Beleidsmedewerker jeugd", 24),
    ("VKR", "Beleidsmedewerker verkeer", 28),
    ("WIJK", "Wijkregisseur", 32),
    ("ISO", "Informatiebeveiliger", 24),
    ("COM", "Communicatieadviseur", 28),
    ("FIN", "Financieel adviseur", 24),
    ("HH", "Coördinator handhaving", 36),
)
HOLDERS = ("BM", "W1", "W2", "W3", "W4", "W5")
FIRST = [
    "Anna",
    "Bram",
    "Fatima",
    "Pieter",
    "Sanne",
    "Emre",
    "Lotte",
    "Joost",
    "Ingrid",
    "Daan",
    "Eva",
    "Ruud",
    "Kees",
    "Marieke",
    "Henk",
    "Ayse",
    "Gerard",
    "Nicole",
    "Thomas",
    "Sara",
    "Youssef",
    "Mila",
    "Lars",
    "Noor",
    "Jesse",
    "Fleur",
    "Sem",
    "Lieke",
    "Ruben",
    "Iris",
]
LAST = [
    "de Vries",
    "Jansen",
    "El Amrani",
    "van Dijk",
    "Bakker",
    "Yilmaz",
    "Visser",
    "Smit",
    "Mulder",
    "de Boer",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Verbeek",
    "Vermeulen",
    "Kaya",
    "Prins",
    "de Graaf",
    "Koster",
    "Peters",
    "Bos",
    "Meijer",
    "de Jong",
    "van den Berg",
    "Willems",
    "Hoekstra",
    "Kok",
    "Schouten",
    "Post",
    "Kuipers",
]
_PREFIX = [
    "Ooster",
    "Wester",
    "Noorder",
    "Zuider",
    "Hoog",
    "Laag",
    "Nieuw",
    "Oud",
    "Groot",
    "Klein",
    "Hooge",
    "Lange",
    "Breed",
    "Korte",
    "Wijde",
    "Zand",
    "Veen",
    "Heide",
    "Berg",
    "Dal",
    "Beek",
    "Bosch",
    "Wind",
    "Meer",
    "Riet",
    "Lin",
    "Eik",
    "Hazel",
    "Vos",
    "Kraai",
]
_SUFFIX = [
    "broek",
    "dam",
    "dijk",
    "veen",
    "wolde",
    "horst",
    "hoven",
    "berg",
    "meer",
    "zand",
    "hout",
    "lo",
    "rade",
    "kerk",
    "sloot",
    "wijk",
    "dorp",
    "haven",
    "burg",
    "recht",
]


def municipality_names(count: int) -> list[str]:
    """`count` distinct, deterministic Dutch-looking names (at most 600)."""
    names = [p + s for p in _PREFIX for s in _SUFFIX]
    random.Random(2023).shuffle(names)
    if count > len(names):
        raise ValueError(f"at most {len(names)} municipalities")
    return names[:count]


def slug(name: str) -> str:
    return name.lower()


@dataclass(frozen=True)
class Municipality:
    index: int
    name: str

    @property
    def code(self) -> str:
        return slug(self.name)

    @property
    def domain(self) -> str:
        return f"{self.code}.example.nl"

    @property
    def programme_code(self) -> str:
        return f"UPV-{self.code}"[:40]

    def person_email(self, key: str) -> str:
        return f"{key.lower()}@{self.domain}"

    def holder_email(self, key: str) -> str:
        return f"{key.lower()}@{self.domain}"


def _person_name(m: Municipality, n: int) -> str:
    return f"{FIRST[(m.index * 7 + n) % len(FIRST)]} {LAST[(m.index * 11 + n * 3) % len(LAST)]}"


def _council_deadlines(m: Municipality) -> list[date]:
    """Submission deadlines spread over the period; different per municipality."""
    start = PERIOD[0] + timedelta(days=10)
    span = (PERIOD[1] - start).days - 30
    return sorted(
        start + timedelta(days=(m.index * 53 + k * 71 + 17 * (k * k)) % span)
        for k in range(COUNCIL_ITEMS)
    )


def schedule(kind: str, n: int) -> dict[str, Any]:
    weekday = ("MO", "TU", "WE", "TH", "FR")[n % 5]
    if kind == "weekly":
        return {"rrule": f"FREQ=WEEKLY;BYDAY={weekday}"}
    if kind == "fortnightly":
        return {"rrule": f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}"}
    return {"every": "month", "day": 1 + (n * 3) % 28}


REGION_CRISIS = "crisis@veiligheidsregio.example.nl"


class _NoAliases(yaml.SafeDumper):
    """Writes shared values out in full: programme files with YAML anchors are refused."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def programme(m: Municipality) -> dict[str, Any]:
    """The programme file of one municipality, as a dict ready for yaml.safe_dump."""
    rnd = random.Random(m.index)
    people = [
        {
            "id": key,
            "name": _person_name(m, n),
            "email": m.person_email(key),
            "role": role,
            "hours_per_week": hours,
        }
        for n, (key, role, hours) in enumerate(PEOPLE)
    ]
    # The region's crisis coordinator serves every municipality (one address): the crisis
    # delegate who may declare a regional crisis in all of them at once (roles below).
    people.append(
        {
            "id": "VR",
            "name": "Regionaal crisiscoördinator",
            "email": REGION_CRISIS,
            "role": "Crisiscoördinator veiligheidsregio",
            "hours_per_week": 8,
        }
    )
    holders = [
        {
            "id": key,
            "name": _person_name(m, 20 + n),
            "title": "burgemeester" if key == "BM" else "wethouder",
            "email": m.holder_email(key),
            "portfolio": "Openbare orde en veiligheid" if key == "BM" else f"Portefeuille {key}",
        }
        for n, key in enumerate(HOLDERS)
    ]
    items = []
    for k, deadline in enumerate(_council_deadlines(m)):
        committee = deadline + timedelta(days=14)
        items.append(
            {
                "code": f"TA{k + 1:02d}",
                "subject": f"Raadsinformatie veiligheid {k + 1} ({m.name})",
                "type": ("raadsinformatiebrief", "raadsvoorstel", "mededeling")[k % 3],
                "holder": HOLDERS[k % len(HOLDERS)],
                "committee": "commissie Bestuur",
                "committee_date": committee,
                "council_date": committee + timedelta(days=14),
                "submission_deadline": deadline,
            }
        )
    kinds = list(SCHEDULES)
    rnd.shuffle(kinds)
    statutory = set(rnd.sample(range(ACTIVITIES), STATUTORY))
    linked = rnd.sample(sorted(set(range(ACTIVITIES)) - statutory), COUNCIL_LINKED)
    per_theme = ACTIVITIES // len(THEMES)
    themes = []
    for t, (name, kind, priority) in enumerate(THEMES):
        owner, backup = PEOPLE[t % len(PEOPLE)][0], PEOPLE[(t + 1) % len(PEOPLE)][0]
        theme: dict[str, Any] = {
            "code": f"T{t + 1:02d}",
            "name": name,
            "kind": kind,
            "council_priority": priority,
            "holders": sorted({"BM", HOLDERS[1 + t % (len(HOLDERS) - 1)]}),
            "owner": owner,
            "backup": backup,
            "partners": ["Politie", "Veiligheidsregio"],
            "budget": [
                {"year": 2023, "amount": 10000 + 500 * t, "description": "Uitvoering"},
                {"year": 2024, "amount": 11000 + 500 * t, "description": "Uitvoering"},
            ],
            "activities": [],
        }
        for j in range(per_theme):
            n = t * per_theme + j
            activity: dict[str, Any] = {
                "code": f"A{n + 1:02d}",
                "title": f"{name}: activiteit {j + 1} ({kinds[n]})",
                "repeat": schedule(kinds[n], n + m.index),
                "owner": PEOPLE[(n + m.index) % len(PEOPLE)][0],
                "backup": PEOPLE[(n + m.index + 5) % len(PEOPLE)][0],
                "effort_hours": float(1 + n % 8),
            }
            if n in statutory:
                activity["statutory"] = "Gemeentewet 172 (synthetisch)"
            if n % 9 == 4:
                activity["kind"] = "monitor"
            if n in linked:
                activity["council_item"] = f"TA{1 + linked.index(n) * 2:02d}"
            theme["activities"].append(activity)
        themes.append(theme)
    return {
        "municipality": m.name,
        "plan": {
            "name": "Integraal Veiligheidsplan 2023-2026",
            "start": date(2023, 1, 1),
            "end": date(2026, 12, 31),
        },
        "programme": {
            "code": m.programme_code,
            "name": f"Uitvoeringsprogramma Veiligheid 2023-2024 {m.name}",
            "start": PERIOD[0],
            "end": PERIOD[1],
        },
        "defaults": {"submission_working_days": 10},
        "non_working_days": DAYS_OFF,
        "people": people,
        "portfolio_holders": holders,
        "council_meetings": [
            {"body": body, "date": day}
            for day, body in sorted({(i[key], body) for i in items for body, key in MEETINGS})
        ],
        "council_items": items,
        "themes": themes,
        "roles": {"coordinators": ["OOV1"], "crisis_delegates": ["VR"]},
    }


MEETINGS = (("commissie Bestuur", "committee_date"), ("raad", "council_date"))


def municipalities(count: int) -> list[Municipality]:
    return [Municipality(i, name) for i, name in enumerate(municipality_names(count))]


def write(m: Municipality, folder: Path) -> Path:
    path = folder / f"{m.programme_code}.yaml"
    path.write_text(
        yaml.dump(programme(m), Dumper=_NoAliases, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    for m in municipalities(args.count):
        print(write(m, args.output))


if __name__ == "__main__":
    main()
