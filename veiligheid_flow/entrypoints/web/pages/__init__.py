"""One module per page family; each exposes `router` (server.py includes them all)."""
