from sqlalchemy import func, select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.tasks.models import Task


def test_example_loads(app):
    result = commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    assert result.created
    with app.sessions() as session:
        assert session.scalar(select(func.count(Task.id))) == 211
