"""Application layer. `queries`: every read, returning frozen views (never rows or sessions)."""
