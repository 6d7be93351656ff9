"""Errors a user can act on; the CLI prints their message (Dutch) without a traceback."""


class DomainError(Exception):
    """A command that cannot be carried out; nothing was changed."""


class NotFound(DomainError):
    pass


class Refused(DomainError):
    """The actor lacks the role or does not serve the municipality (the web answers 403,
    or 404 for an object of another municipality)."""
