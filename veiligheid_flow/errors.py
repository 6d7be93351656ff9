"""Errors a user can act on; the CLI prints their message (Dutch) without a traceback."""


class DomainError(Exception):
    """A command that cannot be carried out; nothing was changed."""


class NotFound(DomainError):
    pass
