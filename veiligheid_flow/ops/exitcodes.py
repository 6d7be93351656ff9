"""Exit codes of `veiligheid run` and `veiligheid status` (README "Beheer").

0 and 1 are what every command uses (1: bad input, nothing changed); 2 is Click's code for a
wrong option or argument; 3 and 4 say what needs an operator's look."""

from __future__ import annotations

OK = 0
INPUT_ERROR = 1  # bad input or an unusable database; nothing was changed
USAGE_ERROR = 2  # an unknown option or a missing argument (Click's own code)
JOB_FAILED = 3  # a job failed (or, for `status`, missed its slot)
MAIL_PROBLEM = 4  # mail was not delivered: failed, uncertain, deferred, or stuck in the outbox
