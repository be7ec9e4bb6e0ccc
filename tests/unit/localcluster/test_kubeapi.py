import io

import pytest

from tools.localcluster.kubeapi import WS_BINARY, WS_CLOSE, port_forward_channels, read_ws_frame


def frame(payload: bytes, opcode: int = WS_BINARY, mask: bytes = b"") -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    flag = 0x80 if mask else 0
    if n < 126:
        head += bytes([flag | n])
    elif n < 1 << 16:
        head += bytes([flag | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([flag | 127]) + n.to_bytes(8, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + mask + body


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536])
def test_frames_of_every_length_encoding_are_read_whole(size):
    payload = bytes(i % 251 for i in range(size))
    stream = io.BytesIO(frame(payload) + frame(b"", WS_CLOSE))
    assert read_ws_frame(stream) == (WS_BINARY, payload)
    assert read_ws_frame(stream) == (WS_CLOSE, b"")


def test_a_masked_frame_is_unmasked():
    assert read_ws_frame(io.BytesIO(frame(b"hello", mask=b"\x01\x02\x03\x04"))) == (WS_BINARY, b"hello")


def test_a_stream_that_ends_inside_a_frame_is_an_eof():
    with pytest.raises(EOFError):
        read_ws_frame(io.BytesIO(frame(b"hello")[:-2]))


PORT = (65535).to_bytes(2, "little")


def test_each_channels_first_message_starts_with_the_port():
    frames = [(WS_BINARY, b"\x00" + PORT), (WS_BINARY, b"\x01" + PORT), (WS_BINARY, b"\x00uid-1 "),
              (WS_BINARY, b"\x0041234\n")]
    assert port_forward_channels(frames) == (b"uid-1 41234\n", b"")


def test_the_port_and_the_first_data_may_share_a_message():
    assert port_forward_channels([(WS_BINARY, b"\x00" + PORT + b"abc")]) == (b"abc", b"")


def test_the_error_channel_is_kept_apart_and_close_frames_are_ignored():
    frames = [(WS_BINARY, b"\x00" + PORT), (WS_BINARY, b"\x01" + PORT + b"no forward found"), (WS_CLOSE, b"\x03\xe8")]
    assert port_forward_channels(frames) == (b"", b"no forward found")
