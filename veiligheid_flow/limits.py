"""Text limits, defined once: the columns are declared with these widths and validation checks
input against the same numbers, so PostgreSQL never refuses what validation let through."""

from __future__ import annotations

import re

KEY = 40  # ids and codes (OOV1, UPV-2023-2024, ONDERMIJNING)
TEXT = 300  # names, titles, subjects, descriptions
EMAIL = 320  # every column that holds an address (or an actor, which is one)
EMAIL_VALID = 254  # RFC 5321: the longest address a mail server accepts (≤ EMAIL)
MUNICIPALITY_CODE = 80  # the slug of a municipality's name

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators: never in a
# stored text (PostgreSQL refuses NUL; the others break headers, .ics lines and terminals).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_problem(value: str, *, allow_newlines: bool = False) -> str | None:
    """A Dutch reason when `value` holds a control character, else None."""
    probe = value.replace("\n", "").replace("\t", "") if allow_newlines else value.replace("\t", "")
    found = CONTROL.search(probe)
    if found is None:
        return None
    char = found.group()
    if char in "\r\n\u2028\u2029":
        return "mag geen regeleinde bevatten"
    return f"bevat een stuurteken (U+{ord(char):04X})"


def length_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"is te lang ({len(value)} tekens; hooguit {limit})"
    return None
