"""Issue 11, point 4: who a message is from and to, as mail clients show it: the sender's name
and the team's Reply-To, To and Cc with people's names, automatic-mail headers, a Date with a
numeric zone. A name can never add or change an address."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.mail.transport import Sender, build_message

SENDER = Sender("veiligheid@huizen.nl", "Team OOV Huizen", reply_to="oov@huizen.nl")


def _row(names: dict[str, str]) -> OutboxMessage:
    return OutboxMessage(
        key="k", recipient="a@example.nl", cc=["b@example.nl"], names=names, subject="Onderwerp",
        text_body="tekst", html_body="<p>tekst</p>", ics=None,
    )


def _parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def test_sender_reply_to_names_and_automatic_mail_headers() -> None:
    names = {"a@example.nl": "Anna de Vries", "b@example.nl": "Fatima El Amrani-Özdemir"}
    msg = _parse(build_message(_row(names), SENDER))
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Team OOV Huizen", "veiligheid@huizen.nl")
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["oov@huizen.nl"]
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        ("Anna de Vries", "a@example.nl")
    ]
    assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [
        ("Fatima El Amrani-Özdemir", "b@example.nl")
    ]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    offset = msg["Date"].datetime.utcoffset()
    assert offset in (timedelta(hours=1), timedelta(hours=2))  # Europe/Amsterdam, numeric
    assert msg["Date"].endswith(("+0100", "+0200"))


def test_without_names_or_reply_to_the_bare_addresses_go_out() -> None:
    msg = _parse(build_message(_row({}), "veiligheid@huizen.nl"))
    assert "Reply-To" not in msg
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [("", "a@example.nl")]


@hsettings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1, max_size=80))
def test_a_name_never_adds_or_changes_an_address(name: str) -> None:
    msg = _parse(build_message(_row({"a@example.nl": name, "b@example.nl": name}), SENDER))
    to, cc = msg["To"].addresses, msg["Cc"].addresses
    assert [a.addr_spec for a in to] == ["a@example.nl"]
    assert [a.addr_spec for a in cc] == ["b@example.nl"]
    shown = " ".join(name.split()) if name.isprintable() else None
    if shown and len(shown.encode()) <= 45:
        assert to[0].display_name == shown
    elif shown and to[0].display_name != shown:  # long and encoded: one word, shortened
        assert to[0].display_name.endswith("…")
        assert shown.startswith(to[0].display_name[:-1])


def test_the_message_id_lies_under_the_installations_mail_domain(app) -> None:
    from sqlalchemy import select

    from tests.conftest import EXAMPLE, at
    from veiligheid_flow.app import commands
    from veiligheid_flow.app.jobs import run_due
    from veiligheid_flow.authority import SYSTEM

    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    run_due(app, now=at("2023-10-10T08:05"))
    domain = app.settings.mail_from.rpartition("@")[2]
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage)))
        assert rows and all(r.message_id.endswith(f"@{domain}>") for r in rows)
        sent = _parse(build_message(rows[0], app.settings.mail_from))
        assert sent["Message-ID"] == rows[0].message_id
    assert OutboxMessage(key="k").message_id.endswith("@veiligheid-flow>")  # rows from before
