"""Message composition: header safety and what the weekly digest shows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow import usecases
from veiligheid_flow.mail.compose import Draft, digest
from veiligheid_flow.programme.models import PortfolioHolder


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Herinnering\r\nBcc: x@example.nl"),
        ("recipient", "a@example.nl\nBcc: x"),
        ("recipient", "niet-een-adres"),
    ],
)
def test_a_draft_refuses_header_injection_and_bad_addresses(field, value):
    fields = {
        "key": "k",
        "kind": "reminder",
        "recipient": "a@example.nl",
        "subject": "s",
        "text": "t",
        "html": "h",
        field: value,
    }
    with pytest.raises(ValueError):
        Draft(**fields)


def test_digest_puts_escalations_and_overdue_first(app):
    usecases.load(app, EXAMPLE, now=at("2023-03-01T09:00"), actor="test")
    now = at("2023-10-09T08:05")
    usecases.refresh(app, now=now)
    with app.sessions() as session:
        holder = session.scalars(select(PortfolioHolder).where(PortfolioHolder.key == "WW")).one()
        draft = digest(session, now=now, holder=holder)

    assert draft.recipient == holder.email
    assert draft.key.endswith("2023-W41")
    assert "geëscaleerd naar achtervang" in draft.text
    assert "Niets vraagt deze week uw aandacht" not in draft.text
    assert draft.text.index("VRAAGT UW AANDACHT") < draft.text.index("VOORTGANG PER THEMA")
    section = draft.text.split("VRAAGT UW AANDACHT")[1].split("VOORTGANG PER THEMA")[0]
    lines = [line.split(" — ")[0] for line in section.splitlines() if line.startswith("- [")]
    assert len(lines) == len(set(lines))  # a repeated activity is one line with a count
    assert " keer (taken " in section


def test_digest_says_so_when_nothing_needs_attention(app):
    now = at("2023-03-06T08:05")
    usecases.load(app, EXAMPLE, now=now, actor="test")
    with app.sessions() as session:
        holder = session.scalars(select(PortfolioHolder).where(PortfolioHolder.key == "WF")).one()
        draft = digest(session, now=now, holder=holder)

    assert "Niets vraagt deze week uw aandacht" in draft.text
    assert "Niets vraagt deze week uw aandacht" in draft.html
    assert draft.subject.endswith(": niets vraagt uw aandacht")
