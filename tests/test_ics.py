"""The .ics attachments are valid RFC 5545: icalendar reads back every field, whatever the text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from veiligheid_flow.mail.render import deadlines_ics

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x7f")
    | st.sampled_from(["\n", ";", ",", "\\", "é", "€", "😀", ":"]),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.from_regex(r"task-[0-9]{1,6}", fullmatch=True),
            TEXT,
            st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)),
            TEXT,
        ),
        max_size=5,
    )
)
def test_icalendar_reads_back_every_event(items: list[tuple[str, str, date, str]]) -> None:
    stamp = datetime(2023, 10, 2, 8, 0, tzinfo=UTC)
    text = deadlines_ics(items, stamp)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    events = Calendar.from_ical(text.encode()).walk("VEVENT")
    assert len(events) == len(items)
    for event, (uid, summary, day, description) in zip(events, items, strict=True):
        assert str(event["uid"]) == f"{uid}@veiligheid-flow"
        assert str(event["summary"]) == summary
        assert str(event["description"]) == description
        assert event.decoded("dtstart") == day
        assert event.decoded("dtend") == day + timedelta(days=1)
        assert event.decoded("dtstamp") == stamp
