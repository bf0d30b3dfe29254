"""The conversation state machine: its states, transitions and guards, and nothing else.

This class is the single source of the diagram (``convctl diagram``). What each state
*does* lives in ``states/``; the machine only decides where the conversation is. Entering
and leaving a state is reported to the ``StateHost`` (the engine), which runs that state's
behaviour. No I/O here.

States::

    Idle -> Connecting -> Listening <-> Responding <-> ToolCall
                              \\            |             |
                               +----> Finished / Error <--+
"""

from __future__ import annotations

from typing import Any, Protocol

from statemachine import State, StateChart


class StateHost(Protocol):
    """What the machine reports to and asks its guards of (the engine)."""

    def state_entered(self, target: str, source: str | None, trigger: str) -> None: ...

    def state_exited(self, source: str) -> None: ...

    def machine_failed(self, error: BaseException) -> None: ...

    def is_turn_settled(self) -> bool: ...

    def has_answerable_calls(self) -> bool: ...


class ConversationChart(StateChart):
    """A realtime voice conversation.

    ``convctl diagram`` draws these states and transitions (mermaid, dot, svg, png). The
    docstring does not embed the table python-statemachine can render into it (the
    statechart placeholder): that would cost every ``convctl run`` ~20 ms of start-up CPU.
    """

    # Internal self-transitions (a second response.created while Responding) must not
    # re-run the state's enter action (STATEMACHINE.md B.10 #1).
    enable_self_transition_entries = False
    catch_errors_as_events = True

    idle = State("Idle", initial=True)
    connecting = State("Connecting")
    listening = State("Listening")
    responding = State("Responding")
    tool_call = State("ToolCall")
    finished = State("Finished", final=True)
    error = State("Error", final=True)

    # --- Transitions --------------------------------------------------------------------

    connect = idle.to(connecting)
    session_ready = (connecting.to(tool_call, cond="has_answerable_calls")
                     | connecting.to(listening))
    response_started = (
        listening.to(responding)
        | tool_call.to(responding)
        | responding.to.itself(internal=True)
    )
    tool_requested = responding.to(tool_call) | listening.to(tool_call)
    turn_settled = (
        responding.to(listening, cond="is_turn_settled")
        | tool_call.to(listening, unless="has_answerable_calls")
    )
    reconnect = connecting.from_(listening, responding, tool_call)
    hang_up = finished.from_(connecting, listening, responding, tool_call)
    fail = error.from_(idle, connecting, listening, responding, tool_call)
    error_execution = error.from_(idle, connecting, listening, responding, tool_call,
                                  on="record_failure")

    def __init__(self, host: StateHost, **kwargs: Any) -> None:
        self.host = host
        # Enter/exit reach the host through a listener, so they stay out of the diagram.
        super().__init__(listeners=[_HostListener(host)], **kwargs)

    # --- Guards -------------------------------------------------------------------------

    def is_turn_settled(self) -> bool:
        """The response is done and everything it said has been played."""
        return self.host.is_turn_settled()

    def has_answerable_calls(self) -> bool:
        """The response made tool calls that still need answering."""
        return self.host.has_answerable_calls()

    # --- Callbacks ----------------------------------------------------------------------

    def record_failure(self, error: BaseException) -> None:
        self.host.machine_failed(error)


class _HostListener:
    """Tells the host (the engine) which state is entered and left."""

    def __init__(self, host: StateHost) -> None:
        self.host = host

    def on_exit_state(self, source: State) -> None:
        self.host.state_exited(source.id)

    def on_enter_state(self, target: State, source: State | None, event: Any) -> None:
        self.host.state_entered(target.id, (source.id or None) if source else None,
                                str(event or ""))


STATE_NAMES = {state.id: state.name for state in ConversationChart.states}
