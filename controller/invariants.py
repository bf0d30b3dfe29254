"""The controller's promises, checked while it runs (always in replay and tests; in live
runs with ``check_invariants`` or CONVCTL_DEBUG=1).

- at most one active response as the controller sees it (one id, by construction);
- every ``call_id`` taken once and answered at most once per session;
- no ``response.create`` while a response is active (checked as it is sent, in context.py);
- no audio of an item played after its truncation;
- Finished and Error are terminal.
A broken promise is a bug: it raises ``InvariantViolation``, which ends the conversation in
Error with the reason, never silently.
"""

from __future__ import annotations

from controller.context import ConversationContext, InvariantViolation

FINAL = ("Finished", "Error")


class InvariantChecker:
    """Checks the facts after every inbox item."""

    def __init__(self, ctx: ConversationContext) -> None:
        self.ctx = ctx
        self.final_state: str | None = None
        self.checks = 0

    def after_step(self, state: str) -> None:
        # "At most one active response" and "taken at most once" hold by construction
        # (one response id; calls keyed by call_id in facts.take_call); "answered at most
        # once per session", "no response.create while active" and "no audio of a
        # truncated item" are checked as events are sent and audio is played
        # (context.py). What is left is checked here.
        self.checks += 1
        if self.final_state is not None:
            if state != self.final_state:
                raise InvariantViolation(f"left the final state {self.final_state} for {state}")
        elif state in FINAL:
            self.final_state = state
