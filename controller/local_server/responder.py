"""The assistant's side of a session: creating, cancelling and running responses.

Owns ``Responder``: ``response.create`` (and the automatic one at the end of a VAD turn),
the one-active-response rule (``conversation_already_has_active_response``),
``response.cancel`` (``response_cancel_not_active`` when nothing runs), barge-in, and, on the
worker thread, deciding what a response says from the conversation - a reply to the
latest user turn, or to the tool outputs that followed it - before handing the ``Plan`` to
the ``ResponseStreamer``. It never touches audio input.
"""

from __future__ import annotations

import re
from typing import Any

from controller.local_server.brain import Plan
from controller.local_server.conversation import Item
from controller.local_server.items import item_from_client
from controller.local_server.response_params import new_response
from controller.local_server.response_state import Response
from controller.local_server.session_state import SessionState
from controller.local_server.streamer import ResponseStreamer
from controller.local_server.wire import ClientError, error_event

# Response instructions such as "Say exactly: Welcome to Acme." are spoken as they stand.
_SAY_THIS = re.compile(r"^\s*say(?:\s+exactly)?\s*[:,]?\s+(?P<words>.+)$", re.I | re.S)


class Responder:
    """Starts responses one at a time on the default conversation and runs them."""

    def __init__(self, state: SessionState, streamer: ResponseStreamer) -> None:
        self.state = state
        self.streamer = streamer

    # --- Client events and turn detection (called with the state lock held) -----------

    def create(self, event: dict[str, Any]) -> None:
        response, input_items = new_response(
            self.state.config, event.get("response"), beta=self.state.dialect.name == "beta",
            conversation_id=self.state.conversation.id)
        context = None if input_items is None else self._resolve_input(input_items)
        self._start(response, context)

    def create_automatic(self) -> None:
        """The response turn detection asks for; a refusal is reported, not raised."""
        response, _ = new_response(self.state.config, None,
                                   beta=self.state.dialect.name == "beta",
                                   conversation_id=self.state.conversation.id)
        try:
            self._start(response, None)
        except ClientError as error:
            self.state.emit(error_event(error))

    def cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        active = self.state.active_response
        target = active if wanted is None or (active and active.id == wanted) else None
        if target is None and wanted is not None:
            target = self.state.side_responses.get(str(wanted))
        if target is None or target.cancelled.is_set():
            raise ClientError("response_cancel_not_active",
                              "Cancellation failed: no active response found")
        target.request_cancel("client_cancelled")

    def interrupt(self, reason: str) -> None:
        """The user started speaking: cancel the response on the default conversation."""
        active = self.state.active_response
        if active is not None and not active.cancelled.is_set():
            active.request_cancel(reason)

    def _start(self, response: Response, context: list[Item] | None) -> None:
        if response.in_default_conversation:
            active = self.state.active_response
            # A response already told to stop no longer blocks: the new one queues after it.
            if active is not None and not active.cancelled.is_set():
                raise ClientError("conversation_already_has_active_response",
                                  "Conversation already has an active response in progress: "
                                  f"{active.id}. Wait until the response is finished before "
                                  "creating a new one.")
            self.state.active_response = response
        else:
            self.state.side_responses[response.id] = response
        self.state.schedule(lambda: self._run(response, context))

    def _resolve_input(self, input_items: list[Any]) -> list[Item]:
        """A response's own ``input``: items, or references to conversation items."""
        context = []
        for index, raw in enumerate(input_items):
            if isinstance(raw, dict) and raw.get("type") == "item_reference":
                context.append(self.state.conversation.get(str(raw.get("id"))))
            else:
                context.append(item_from_client(raw, self.state.conversation,
                                                param=f"response.input[{index}]"))
        return context

    # --- On the worker thread -----------------------------------------------------------

    def _run(self, response: Response, context: list[Item] | None) -> None:
        with self.state.lock:
            self.state.emit({"type": "response.created",
                             "response": self.state.dialect.response_json(response)})
            plan = self._plan(response, context)
        self.streamer.stream(response, plan)

    def _plan(self, response: Response, context: list[Item] | None) -> Plan:
        if response.instructions != self.state.config.instructions:
            said = _SAY_THIS.match(response.instructions)
            if said:
                return Plan(say=said.group("words").strip())
        outputs: list[Item] = []
        for item in reversed(context if context is not None else self.state.conversation.items):
            if item.type == "function_call_output":
                outputs.insert(0, item)
            elif item.type == "message" and item.role == "user":
                if outputs:
                    break
                return self.state.brain.reply_to_user(
                    item.spoken_text(), tools={str(t["name"]): t for t in response.tools},
                    calls_allowed=response.tool_choice != "none")
            elif item.type == "message" and item.role == "assistant" and outputs:
                break
        if outputs:
            return self._reply_to_outputs(outputs)
        return self.state.brain.greet()

    def _reply_to_outputs(self, outputs: list[Item]) -> Plan:
        said = []
        for output in outputs:
            call = self.state.conversation.function_call(output.call_id or "")
            name = call.name if call and call.name else ""
            arguments = call.arguments if call and call.arguments else "{}"
            plan = self.state.brain.reply_to_tool_output(name, arguments, output.output or "")
            said.append(plan.say)
        return Plan(say=" ".join(s for s in said if s))
