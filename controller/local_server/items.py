"""Reading conversation items a client sends (``conversation.item.create``, response input).

Owns ``item_from_client``: it validates an item like the real service - known fields only,
the content types each role may carry (no assistant audio), a ``function_call_output``
only for a ``call_id`` the conversation has - and builds the ``Item``. Accepts both the
GA (``output_text``) and beta (``text``) spelling of assistant text. Pure; no I/O.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from controller.local_server.conversation import Content, Conversation, Item
from controller.local_server.validation import (
    check_choice,
    check_list,
    check_object,
    check_string,
    require,
)
from controller.local_server.wire import ClientError, new_id

_ITEM_KEYS = ("id", "type", "object", "status", "role", "content", "call_id", "name",
              "arguments", "output")
_CONTENT_BY_ROLE = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("output_text", "text"),
}


def item_from_client(raw: Any, conversation: Conversation, *, param: str = "item") -> Item:
    """The ``Item`` for a client's item object, or ``ClientError`` naming the bad field."""
    item = check_object(raw, param, _ITEM_KEYS)
    kind = check_choice(require(item, "type", param), f"{param}.type",
                        ("message", "function_call", "function_call_output"))
    item_id = check_string(item.get("id") or new_id("item"), f"{param}.id")
    if any(existing.id == item_id for existing in conversation.items):
        raise ClientError("invalid_value", f"Invalid '{param}.id': an item with id "
                          f"'{item_id}' already exists.", param=f"{param}.id")
    if kind == "function_call":
        return Item(id=item_id, type=kind,
                    call_id=check_string(require(item, "call_id", param), f"{param}.call_id"),
                    name=check_string(require(item, "name", param), f"{param}.name"),
                    arguments=check_string(item.get("arguments", "{}"), f"{param}.arguments"))
    if kind == "function_call_output":
        call_id = check_string(require(item, "call_id", param), f"{param}.call_id")
        if conversation.function_call(call_id) is None:
            raise ClientError("invalid_value", f"Tool call ID '{call_id}' not found in "
                              "conversation.", param=f"{param}.call_id")
        return Item(id=item_id, type=kind, call_id=call_id,
                    output=check_string(require(item, "output", param), f"{param}.output"))
    role = check_choice(require(item, "role", param), f"{param}.role", tuple(_CONTENT_BY_ROLE))
    parts = check_list(require(item, "content", param), f"{param}.content")
    content = [_content(part, role, f"{param}.content[{index}]")
               for index, part in enumerate(parts)]
    return Item(id=item_id, type=kind, role=role, content=content)


def _content(raw: Any, role: str, param: str) -> Content:
    part = check_object(raw, param, ("type", "text", "audio", "transcript"))
    kind = check_choice(require(part, "type", param), f"{param}.type", _CONTENT_BY_ROLE[role])
    if kind == "input_audio":
        audio = check_string(part.get("audio", ""), f"{param}.audio")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ClientError("invalid_value", f"Invalid '{param}.audio': not valid base64.",
                              param=f"{param}.audio") from error
        transcript = part.get("transcript")
        return Content(type="input_audio", audio=bytearray(pcm),
                       transcript=check_string(transcript, f"{param}.transcript")
                       if transcript is not None else None)
    text = check_string(require(part, "text", param), f"{param}.text")
    return Content(type="output_text" if kind == "text" else kind, text=text)
