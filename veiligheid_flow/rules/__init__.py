"""Rules: policy as data (YAML tables in `rules/`), a pure engine, and the service applying it."""
