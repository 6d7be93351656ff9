"""The .ics attachments are valid RFC 5545: icalendar reads back every field, whatever the text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from veiligheid_flow.mail.render import Deadline, deadlines_ics

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


def test_a_deadline_is_free_time_with_an_alarm_and_a_rising_sequence() -> None:
    first = datetime(2023, 10, 2, 8, 0, tzinfo=UTC)
    later = first + timedelta(minutes=1)
    items = [Deadline("task-1", "Deadline: A", date(2023, 10, 13), "wat het is")]
    (event,) = Calendar.from_ical(deadlines_ics(items, first).encode()).walk("VEVENT")
    assert str(event["transp"]) == "TRANSPARENT"
    assert str(event["status"]) == "CONFIRMED"
    (alarm,) = event.walk("VALARM")
    assert str(alarm["action"]) == "DISPLAY"
    assert alarm.decoded("trigger") == timedelta(hours=-15)  # 09:00 the day before
    (moved,) = Calendar.from_ical(deadlines_ics(items, later).encode()).walk("VEVENT")
    assert int(moved["sequence"]) == int(event["sequence"]) + 1


def test_done_work_is_cancelled_and_a_feed_has_a_name_and_refresh() -> None:
    stamp = datetime(2023, 10, 2, 8, 0, tzinfo=UTC)
    items = [Deadline("task-2", "Deadline: B", date(2023, 10, 13), "x", cancelled=True)]
    text = deadlines_ics(
        items, stamp, domain="huizen.nl", name="Deadlines Anna", refresh=timedelta(hours=1)
    )
    calendar = Calendar.from_ical(text.encode())
    assert str(calendar["x-wr-calname"]) == "Deadlines Anna"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT60M\r\n" in text
    (event,) = calendar.walk("VEVENT")
    assert str(event["status"]) == "CANCELLED" and not event.walk("VALARM")
    assert str(event["uid"]) == "task-2@huizen.nl"
