"""The conversation one local session holds: its items in order, with their audio.

Owns ``Item``/``Content`` (messages, function calls, function call outputs) and the
operations clients can ask for by item id: insert after an item, retrieve, delete and
truncate an assistant's audio to what the listener heard. Content types are stored in the
GA spelling (``input_audio``, ``output_audio``, ``output_text``); dialects rename them on
the way out. No I/O and no locking: the session serialises access.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.local_server.wire import BYTES_PER_MS, ClientError, new_id


@dataclass
class Content:
    """One content part: text, or audio with the words it says."""

    type: str
    text: str | None = None
    transcript: str | None = None
    audio: bytearray = field(default_factory=bytearray)
    # (word, millisecond the word ends at) for assistant audio, to trim on truncation.
    word_ends_ms: list[tuple[str, int]] = field(default_factory=list)

    @property
    def audio_ms(self) -> int:
        return len(self.audio) // BYTES_PER_MS

    def words(self) -> str:
        """What this part says, as text (a transcript for audio)."""
        return (self.text if self.text is not None else self.transcript) or ""


@dataclass
class Item:
    """A conversation item in the realtime model: message, function call or its output."""

    id: str
    type: str
    role: str | None = None
    status: str = "completed"
    content: list[Content] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    def spoken_text(self) -> str:
        """All the words of a message, joined."""
        return " ".join(part.words() for part in self.content if part.words()).strip()


def user_audio_item(item_id: str, audio: bytes) -> Item:
    """The user message a committed input audio buffer becomes."""
    return Item(id=item_id, type="message", role="user",
                content=[Content(type="input_audio", audio=bytearray(audio))])


class Conversation:
    """The default conversation: an ordered list of items addressed by id."""

    def __init__(self) -> None:
        self.id = new_id("conv")
        self.items: list[Item] = []

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (``root``: first; None: last).

        Returns the id of the item now before it, as ``previous_item_id`` events report.
        """
        if previous_item_id is None:
            position = len(self.items)
        elif previous_item_id == "root":
            position = 0
        else:
            position = self._index(previous_item_id, param="previous_item_id") + 1
        self.items.insert(position, item)
        return self.items[position - 1].id if position > 0 else None

    def previous_id(self, item: Item) -> str | None:
        position = self.items.index(item)
        return self.items[position - 1].id if position > 0 else None

    def get(self, item_id: str) -> Item:
        return self.items[self._index(item_id, param="item_id")]

    def delete(self, item_id: str) -> None:
        del self.items[self._index(item_id, param="item_id")]

    def function_call(self, call_id: str) -> Item | None:
        for item in self.items:
            if item.type == "function_call" and item.call_id == call_id:
                return item
        return None

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio part to its first ``audio_end_ms`` and the words in it."""
        item = self.get(item_id)
        if item.role != "assistant" or not 0 <= content_index < len(item.content):
            raise ClientError("invalid_value", f"Cannot truncate item {item_id}: only the "
                              "audio content of an assistant message can be truncated.",
                              param="content_index")
        part = item.content[content_index]
        if part.type != "output_audio":
            raise ClientError("invalid_value", f"Content {content_index} of item {item_id} "
                              "has no audio to truncate.", param="content_index")
        if audio_end_ms > part.audio_ms:
            raise ClientError("invalid_value", f"Audio content of {part.audio_ms}ms is "
                              f"already shorter than {audio_end_ms}ms", param="audio_end_ms")
        del part.audio[audio_end_ms * BYTES_PER_MS:]
        part.word_ends_ms = [(w, end) for w, end in part.word_ends_ms if end <= audio_end_ms]
        part.transcript = " ".join(word for word, _ in part.word_ends_ms)

    def _index(self, item_id: str, *, param: str) -> int:
        for position, item in enumerate(self.items):
            if item.id == item_id:
                return position
        raise ClientError("invalid_value",
                          f"Invalid '{param}': no item with id '{item_id}' in the conversation.",
                          param=param)
