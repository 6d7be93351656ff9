"""Alembic environment: runs against the engine handed over in `config.attributes`."""

from alembic import context

from veiligheid_flow.db import Base
from veiligheid_flow.models import import_all

import_all()
config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
