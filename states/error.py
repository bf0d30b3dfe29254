"""Error: the conversation cannot go on; say why, in words a person can act on.

Reached on fatal server errors (bad key, unknown model, beta shape disabled, no quota),
fatal closes (3000, 4000), a rejected session configuration, a connection that could not
be made, or a bug (an exception in the machine; never swallowed).
"""

from __future__ import annotations

from states.base import StateBehaviour
from states.finished import release_everything


class Error(StateBehaviour):
    name = "error"

    def enter(self) -> None:
        reason = self.ctx.facts.fatal_reason or "the conversation failed"
        self.ctx.console.diagnostic(reason, level="error")
        release_everything(self.ctx)
