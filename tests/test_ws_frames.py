"""The frames convctl builds for the websocket are the ones RFC 6455 describes, read back
by websocket-client's own frame parser (an independent implementation)."""

from __future__ import annotations

import pytest
from websocket import ABNF
from websocket._abnf import frame_buffer

from controller.ws_frames import apply_mask, client_text_frame


def read_back(frame: bytes) -> ABNF:
    """Parse ``frame`` the way a peer reading the socket would."""
    stream = bytearray(frame)

    def recv(count: int) -> bytes:
        chunk = bytes(stream[:count])
        del stream[:count]
        return chunk

    parsed = frame_buffer(recv, skip_utf8_validation=False).recv_frame()
    assert not stream, "the frame is longer than its header says"
    return parsed


def test_the_rfc_example_hello_is_built_byte_for_byte():
    # RFC 6455 section 5.7: a single-frame masked text message containing "Hello".
    frame = client_text_frame(b"Hello", bytes.fromhex("37fa213d"))

    assert frame == bytes.fromhex("818537fa213d7f9f4d5158")


@pytest.mark.parametrize("length", [0, 1, 3, 4, 125, 126, 127, 65535, 65536, 200_000])
def test_every_length_form_reads_back_as_the_same_final_text_frame(length):
    payload = bytes((i * 7 + 3) % 128 for i in range(length))  # ASCII, like JSON
    key = bytes.fromhex("a1b2c3d4")

    parsed = read_back(client_text_frame(payload, key))

    assert parsed.fin == 1
    assert parsed.opcode == ABNF.OPCODE_TEXT
    assert parsed.mask_value == 1
    assert parsed.data == payload  # the parser unmasked it with the key in the frame


def test_the_payload_on_the_wire_is_masked():
    payload = b'{"type":"input_audio_buffer.append","audio":"AAAA"}'

    frame = client_text_frame(payload, b"\x01\x02\x03\x04")

    assert payload not in frame
    assert apply_mask(frame[6:], b"\x01\x02\x03\x04") == payload
    assert ABNF.mask(b"\x01\x02\x03\x04", frame[6:]) == payload


def test_a_mask_key_must_be_four_bytes():
    with pytest.raises(ValueError, match="4 bytes"):
        client_text_frame(b"x", b"abc")
