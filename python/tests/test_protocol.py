"""Frame encoding/decoding against docs/worker-protocol.md, byte for byte."""

import os
import struct
import threading
import unittest

from snakepit import protocol
from snakepit.protocol import (
    CALL, CHUNK, LOG, PONG, RESULT, FrameReader, FrameSink, FrameWriter, PayloadEncoder, ProtocolError,
    decode_value, encode_frame, encode_json, encode_value)


def body_of(frame):
    (size,) = struct.unpack_from(">I", frame, 0)
    assert size == len(frame) - 4
    return frame[4:]


class EncodeFrameTest(unittest.TestCase):
    def test_empty_frame_layout(self):
        frame = encode_frame(PONG, 7)
        self.assertEqual(frame, struct.pack(">IBIII", 13, 9, 7, 0, 0))

    def test_layout_with_head_payload_and_blobs(self):
        head = b'{"level":"info","logger":"x"}'
        payload = b'{"$blob":0}'
        frame = encode_frame(LOG, 0xDEADBEEF, head, payload, [b"\x00\x01\x02", b""])
        expected_body = (bytes([10]) + struct.pack(">I", 0xDEADBEEF) + struct.pack(">I", len(head)) + head
                         + struct.pack(">I", len(payload)) + payload
                         + struct.pack(">I", 3) + b"\x00\x01\x02" + struct.pack(">I", 0))
        self.assertEqual(body_of(frame), expected_body)

    def test_round_trip(self):
        cases = [
            (CALL, 1, b'{"tool":"add","session":null,"timeoutMs":1000}', b'{"a":1,"b":2}', None),
            (RESULT, 2**32 - 1, b"", b"null", None),
            (CHUNK, 3, b"", b'[{"$blob":0},{"$blob":1}]', [b"abc", b"\xff" * 1000]),
            (PONG, 4, b"", b"", None),
        ]
        data = b"".join(encode_frame(*c) for c in cases)
        self.assertEqual(FrameReader().feed(data), [tuple(c) for c in cases])


class PayloadTest(unittest.TestCase):
    def test_compact_utf8_json(self):
        payload, blobs = encode_value({"a": [1, 2.5, None, True], "ü": "日本 ✓"})
        self.assertEqual(payload, '{"a":[1,2.5,null,true],"ü":"日本 ✓"}'.encode("utf-8"))
        self.assertIsNone(blobs)

    def test_bytes_become_blobs_anywhere(self):
        value = {"x": b"one", "nested": [bytearray(b"two"), {"m": memoryview(b"three")}]}
        payload, blobs = encode_value(value)
        self.assertEqual(payload, b'{"x":{"$blob":0},"nested":[{"$blob":1},{"m":{"$blob":2}}]}')
        self.assertEqual([bytes(b) for b in blobs], [b"one", b"two", b"three"])
        back = decode_value(payload, [bytes(b) for b in blobs])
        self.assertEqual(back, {"x": b"one", "nested": [b"two", {"m": b"three"}]})
        self.assertIs(type(back["nested"][0]), bytes)

    def test_top_level_bytes_and_round_trip_through_a_frame(self):
        enc = PayloadEncoder()
        frame = enc.frame(RESULT, 9, b"\x00" * 10)
        (kind, cid, head, payload, blobs), = FrameReader().feed(frame)
        self.assertEqual((kind, cid, head, payload), (RESULT, 9, b"", b'{"$blob":0}'))
        self.assertEqual(decode_value(payload, blobs), b"\x00" * 10)

    def test_blob_placeholders_only_when_exact(self):
        blobs = [b"z"]
        self.assertEqual(decode_value(b'{"$blob":true}', blobs), {"$blob": True})
        self.assertEqual(decode_value(b'{"$blob":0,"x":1}', blobs), {"$blob": 0, "x": 1})
        self.assertEqual(decode_value(b'{"$blob":"0"}', blobs), {"$blob": "0"})
        with self.assertRaises(ValueError):
            decode_value(b'{"$blob":1}', blobs)

    def test_empty_payload_is_no_value(self):
        self.assertIsNone(decode_value(b""))
        self.assertEqual(decode_value(b"null"), None)

    def test_unencodable_values(self):
        with self.assertRaises(TypeError):
            encode_value({1, 2})
        with self.assertRaises(ValueError):
            encode_value(float("nan"))  # JSON.parse would reject NaN
        cycle = []
        cycle.append(cycle)
        with self.assertRaises(ValueError):
            encode_value(cycle)

    def test_lone_surrogates_fall_back_to_escapes(self):
        payload, _ = encode_value({"s": "a\ud800b", "ok": "é"})
        self.assertEqual(payload, b'{"s":"a\\ud800b","ok":"\\u00e9"}')

    def test_encoder_is_reusable_after_an_error(self):
        enc = PayloadEncoder()
        with self.assertRaises(TypeError):
            enc.encode([b"x", object()])
        self.assertEqual(enc.encode([1]), (b"[1]", None))

    def test_encode_json_head(self):
        self.assertEqual(encode_json({"tool": "é", "session": None}), '{"tool":"é","session":null}'.encode())


class FrameReaderTest(unittest.TestCase):
    def stream(self):
        return b"".join([
            encode_frame(CALL, 1, b'{"tool":"echo"}', b'{"value":"\xc3\xbc"}'),
            encode_frame(PONG, 2),
            encode_frame(CHUNK, 3, b"", b'{"$blob":0}', [b"\x00\x00\x00\x05abc"]),
            encode_frame(RESULT, 4, b"", b"42"),
        ])

    def test_split_at_every_byte_boundary(self):
        data = self.stream()
        expected = FrameReader().feed(data)
        self.assertEqual(len(expected), 4)
        for cut in range(len(data) + 1):
            reader = FrameReader()
            got = reader.feed(data[:cut]) + reader.feed(data[cut:])
            self.assertEqual(got, expected, "split at %d" % cut)
            self.assertEqual(reader.pending(), 0)

    def test_split_at_every_pair_of_boundaries(self):
        data = self.stream()[:80]  # first two frames and part of the third
        expected = FrameReader().feed(self.stream())[:2]
        for i in range(len(data) + 1):
            for j in range(i, len(data) + 1):
                reader = FrameReader()
                got = reader.feed(data[:i]) + reader.feed(data[i:j]) + reader.feed(data[j:])
                self.assertEqual(got, expected)

    def test_byte_by_byte(self):
        data = self.stream()
        reader = FrameReader()
        got = []
        for i in range(len(data)):
            got += reader.feed(data[i:i + 1])
        self.assertEqual(got, FrameReader().feed(data))

    def test_accepts_bytearray_and_memoryview(self):
        data = self.stream()
        self.assertEqual(FrameReader().feed(bytearray(data)), FrameReader().feed(data))
        self.assertEqual(FrameReader().feed(memoryview(data)), FrameReader().feed(data))

    def test_frame_larger_than_one_mib(self):
        blob = os.urandom(3 * 1024 * 1024 + 17)
        text = "ü" * 300000
        frame = PayloadEncoder().frame(RESULT, 5, {"text": text, "data": blob})
        self.assertGreater(len(frame), 1 << 20)
        reader = FrameReader()
        got = []
        chunk = 64 * 1024
        for i in range(0, len(frame), chunk):
            got += reader.feed(frame[i:i + chunk])
        self.assertEqual(len(got), 1)
        kind, cid, head, payload, blobs = got[0]
        self.assertEqual(decode_value(payload, blobs), {"text": text, "data": blob})

    def test_a_frame_spanning_reads_is_kept_as_chunks_not_a_growing_buffer(self):
        blob = os.urandom(1 << 20)
        frame = encode_frame(RESULT, 9, b"", b'{"$blob":0}', [blob]) + encode_frame(PONG, 3)
        reader = FrameReader()
        got = []
        for i in range(0, len(frame), 4096):
            got += reader.feed(frame[i:i + 4096])
            self.assertTrue(all(type(c) in (bytes, memoryview) for c in reader._chunks))
        self.assertEqual([g[:2] for g in got], [(RESULT, 9), (PONG, 3)])
        self.assertEqual(got[0][4], [blob])
        self.assertEqual(reader.pending(), 0)

    def test_a_buffer_the_caller_reuses_never_changes_what_was_kept(self):
        data = self.stream()
        buf = bytearray(data[:30])
        reader = FrameReader()
        got = reader.feed(buf)
        buf[:] = b"\xff" * len(buf)  # the caller reuses (and could resize) its buffer
        buf.extend(b"more")
        got += reader.feed(bytearray(data[30:]))
        self.assertEqual(got, FrameReader().feed(data))

    def test_frame_over_the_limit_is_a_protocol_error(self):
        reader = FrameReader(max_frame=1000)
        reader.feed(encode_frame(RESULT, 1, b"", b"1" * 987))  # body of exactly 1000 bytes: fine
        with self.assertRaises(ProtocolError):
            reader.feed(struct.pack(">I", 1001))
        self.assertEqual(protocol.MAX_FRAME, 64 * 1024 * 1024)

    def test_malformed_bodies(self):
        bad = [
            struct.pack(">I", 5) + b"\x01" * 5,  # shorter than 13
            struct.pack(">IBII", 13, 3, 1, 50) + struct.pack(">I", 0),  # head runs past the end
            struct.pack(">IBIII", 13, 3, 1, 0, 9),  # payload runs past the end
            struct.pack(">IBIII", 15, 3, 1, 0, 0) + b"\x00\x00",  # truncated blob length
            struct.pack(">IBIIII", 17, 3, 1, 0, 0, 1),  # blob runs past the end
        ]
        for data in bad:
            with self.assertRaises(ProtocolError, msg=data):
                FrameReader().feed(data)


class FrameWriterTest(unittest.TestCase):
    def test_large_values_go_out_as_parts_identical_to_the_joined_frame(self):
        r, w = os.pipe()
        sink = FrameSink(FrameWriter(w))
        blob = os.urandom(300000)  # several pipe buffers: writev writes it in parts
        text = b'"' + b"y" * 100000 + b'"'
        out = []

        def drain():
            while True:
                data = os.read(r, 1 << 16)
                if not data:
                    return
                out.append(data)

        t = threading.Thread(target=drain)
        t.start()
        sink.result(5, b'{"a":{"$blob":0},"b":{"$blob":1}}', [blob, b"tail"])
        sink.chunk(6, text, None)
        sink.result(7, b"1", None)
        os.close(w)
        t.join()
        os.close(r)
        self.assertEqual(b"".join(out), encode_frame(RESULT, 5, b"", b'{"a":{"$blob":0},"b":{"$blob":1}}', [blob, b"tail"])
                         + encode_frame(CHUNK, 6, b"", text) + encode_frame(RESULT, 7, b"", b"1"))

    def test_threads_never_interleave_frames(self):
        r, w = os.pipe()
        writer = FrameWriter(w)
        big = b"x" * 200000  # larger than a pipe buffer: forces partial writes
        frames_per_thread = 20
        received = []

        def drain():
            reader = FrameReader()
            while True:
                data = os.read(r, 1 << 16)
                if not data:
                    return
                received.extend(reader.feed(data))

        reader_thread = threading.Thread(target=drain)
        reader_thread.start()

        def send(n):
            for i in range(frames_per_thread):
                writer.write(encode_frame(RESULT, n, b"", b'"' + big + b'"'))

        senders = [threading.Thread(target=send, args=(n,)) for n in range(1, 5)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        os.close(w)
        reader_thread.join()
        os.close(r)
        self.assertEqual(len(received), 4 * frames_per_thread)
        self.assertTrue(all(f[3] == b'"' + big + b'"' for f in received))


if __name__ == "__main__":
    unittest.main()
