"""One place that imports every ORM module, so metadata is complete (Alembic, tests)."""


def import_all() -> None:
    from veiligheid_flow.access import models as _access  # noqa: F401
    from veiligheid_flow.audit import models as _audit  # noqa: F401
    from veiligheid_flow.crisis import models as _crisis  # noqa: F401
    from veiligheid_flow.mail import models as _mail  # noqa: F401
    from veiligheid_flow.ops import models as _ops  # noqa: F401
    from veiligheid_flow.programme import models as _programme  # noqa: F401
    from veiligheid_flow.rules import models as _rules  # noqa: F401
    from veiligheid_flow.tasks import models as _tasks  # noqa: F401
