"""Issue 10, point 7: wherever a person is named (`--by`), an address, an id and a name are
accepted alike; a name or title that fits several people is refused with the candidates."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app.commands import load
from veiligheid_flow.authority import resolve_actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError


@pytest.fixture
def huizen(app: App) -> App:
    load(app, EXAMPLE, now=at("2023-03-01T09:00"), by="OOV1")
    return app


@pytest.mark.parametrize(
    "given", ["a.devries@example.nl", "OOV1", "oov1", "Anna de Vries", "  anna  DE vries "]
)
def test_an_address_an_id_and_a_name_name_the_same_person(huizen: App, given: str) -> None:
    with huizen.sessions() as session:
        actor = resolve_actor(session, given)
    assert (actor.email, actor.name) == ("a.devries@example.nl", "Anna de Vries")


def test_a_portfolio_holder_is_found_by_name_and_by_title(huizen: App) -> None:
    with huizen.sessions() as session:
        assert resolve_actor(session, "Marieke Verbeek").email == "m.verbeek@example.nl"
        assert resolve_actor(session, "burgemeester").email == "m.verbeek@example.nl"


def test_an_ambiguous_title_lists_every_candidate(huizen: App) -> None:
    with huizen.sessions() as session, pytest.raises(DomainError) as refused:
        resolve_actor(session, "wethouder")
    message = str(refused.value)
    for name in ("Henk Vermeulen", "Ayse Kaya", "Gerard Prins", "Nicole de Graaf"):
        assert name in message
    assert "\n" not in message


def test_an_unknown_name_is_refused_with_a_suggestion(huizen: App) -> None:
    with huizen.sessions() as session, pytest.raises(DomainError) as refused:
        resolve_actor(session, "Anna de Vris")
    assert "Anna de Vries" in str(refused.value)
