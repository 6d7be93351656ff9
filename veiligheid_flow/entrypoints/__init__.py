"""Entry points: the CLI, the scheduler (and later the web app). Thin: parse, call the
application layer (`veiligheid_flow.app`), render. No sessions, no SQL."""
