"""Frame encoding and decoding for the agent <-> worker pipes (docs/worker-protocol.md).

Why this module exists: it is the only place that knows the byte layout, so the worker, the
tests and any debugging driver share one implementation of the wire contract.

    frame := len:u32 body[len]
    body  := kind:u8 id:u32 headLen:u32 head payloadLen:u32 payload blob*
    blob  := blobLen:u32 bytes          (all integers unsigned big-endian)
"""

import bisect
import json
import os
import struct
import threading

READY, CALL, RESULT, ERROR, CHUNK, END, CANCEL, PING, PONG, LOG, SHUTDOWN = range(1, 12)
KIND_NAMES = {
    READY: "READY", CALL: "CALL", RESULT: "RESULT", ERROR: "ERROR", CHUNK: "CHUNK", END: "END",
    CANCEL: "CANCEL", PING: "PING", PONG: "PONG", LOG: "LOG", SHUTDOWN: "SHUTDOWN",
}

MAX_FRAME = 64 * 1024 * 1024  # default limit on a frame's `len` (the body length)

_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">IBII")  # len, kind, id, headLen
_HEAD0 = struct.Struct(">IBIII")  # len, kind, id, headLen = 0, payloadLen
_BODY = struct.Struct(">BII")  # kind, id, headLen (at the start of a body)


class ProtocolError(Exception):
    """The byte stream is not valid framing; the connection is unusable."""


# ----------------------------------------------------------------------------- encoding

# Frames with more payload and blob bytes than this are written as their parts (os.writev) instead
# of being joined into one buffer first: a 48 MiB result is not copied on its way out.
WRITEV_BYTES = 64 * 1024
# Most parts one writev takes (IOV_MAX is 1024 on Linux); frames with more blobs are joined.
MAX_WRITEV_PARTS = 512


def encode_frame_parts(kind, call_id, head=b"", payload=b"", blobs=None):
    """The frame as a list of buffers that together make encode_frame(...): nothing is copied."""
    size = 13 + len(head) + len(payload)
    parts = [None, head, _U32.pack(len(payload)), payload]
    if blobs:
        for blob in blobs:
            parts.append(_U32.pack(len(blob)))
            parts.append(blob)
            size += 4 + len(blob)
    parts[0] = _HEAD.pack(size, kind, call_id, len(head))
    return parts


def encode_frame(kind, call_id, head=b"", payload=b"", blobs=None):
    """Return one whole frame as bytes. head/payload are already-encoded UTF-8 JSON (or b"")."""
    if not head and not blobs:
        return _HEAD0.pack(13 + len(payload), kind, call_id, 0, len(payload)) + payload
    return b"".join(encode_frame_parts(kind, call_id, head, payload, blobs))


class PayloadEncoder:
    """Compact UTF-8 JSON with bytes-like values turned into `{"$blob": i}` + raw blobs.

    Not thread-safe: keep one per thread. The `default` hook only runs for values json cannot
    encode itself, so results without bytes pay nothing for blob support.
    """

    def __init__(self):
        self._blobs = None
        kw = dict(separators=(",", ":"), allow_nan=False, default=self._default)
        self._utf8 = json.JSONEncoder(ensure_ascii=False, **kw).encode
        self._ascii = json.JSONEncoder(ensure_ascii=True, **kw).encode

    def _default(self, o):
        if isinstance(o, (bytes, bytearray, memoryview)):
            blobs = self._blobs
            if blobs is None:
                blobs = self._blobs = []
            blobs.append(o.tobytes() if isinstance(o, memoryview) else o)
            return {"$blob": len(blobs) - 1}
        raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

    def encode(self, value):
        """Return (payload_bytes, blobs_or_None). Raises TypeError/ValueError if not encodable."""
        self._blobs = None
        try:
            data = self._utf8(value).encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates cannot be UTF-8: fall back to \\uXXXX escapes for this value.
            self._blobs = None
            data = self._ascii(value).encode("ascii")
        blobs, self._blobs = self._blobs, None
        return data, blobs

    def frame(self, kind, call_id, value, head=b""):
        payload, blobs = self.encode(value)
        return encode_frame(kind, call_id, head, payload, blobs)


_encoder_local = threading.local()


def encode_value(value):
    """Thread-safe convenience wrapper around a per-thread PayloadEncoder."""
    enc = getattr(_encoder_local, "enc", None)
    if enc is None:
        enc = _encoder_local.enc = PayloadEncoder()
    return enc.encode(value)


def encode_json(value):
    """Compact UTF-8 JSON for heads (no blobs)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ----------------------------------------------------------------------------- decoding

_decode_json = json.JSONDecoder().decode


def decode_json(data):
    """Decode a UTF-8 JSON head/payload; empty means None."""
    if not data:
        return None
    return _decode_json(data.decode("utf-8"))


def decode_value(payload, blobs=None):
    """Decode a payload, turning `{"$blob": i}` into the i-th blob (bytes). Empty -> None."""
    if not payload:
        return None
    if not blobs:
        return _decode_json(payload.decode("utf-8"))
    count = len(blobs)

    def hook(obj):
        if len(obj) == 1:
            i = obj.get("$blob")
            if type(i) is int:
                if 0 <= i < count:
                    return blobs[i]
                raise ValueError("blob index %d out of range (frame has %d blobs)" % (i, count))
        return obj

    return json.JSONDecoder(object_hook=hook).decode(payload.decode("utf-8"))


class FrameReader:
    """Incremental parser: feed() raw bytes, get whole frames back.

    A frame is the tuple (kind, id, head_bytes, payload_bytes, blobs_or_None). Frames that lie
    inside one read are parsed straight from it. A frame that spans reads is kept as the list of
    its chunks (never appended into a growing buffer) and, once complete, each of its sections is
    copied exactly once out of that list: cost is linear in the input, and a 48 MiB blob costs one
    copy, not three.
    """

    def __init__(self, max_frame=MAX_FRAME):
        self.max_frame = max_frame
        self._chunks = []  # pending input, oldest first (bytes or memoryview)
        self._have = 0     # bytes in _chunks
        self._need = 0     # 4 + body length of the pending frame, once its length is known

    def pending(self):
        """Number of buffered bytes that do not yet form a whole frame."""
        return self._have

    def feed(self, data):
        if not self._chunks:
            return self._parse_run(data, [])
        if data:
            self._chunks.append(data if type(data) is bytes else bytes(data))  # kept: must not change
            self._have += len(data)
        frames = []
        while True:
            if not self._need:
                if self._have < 4:
                    return frames
                (size,) = _U32.unpack(_Span(self._chunks).take(0, 4))
                if size > self.max_frame:
                    raise ProtocolError("frame of %d bytes exceeds the %d byte limit" % (size, self.max_frame))
                self._need = 4 + size
            if self._have < self._need:
                return frames
            span = _Span(self._chunks)
            frames.append(_parse_span(span, 4, self._need))
            rest = span.after(self._need)
            self._chunks, self._have, self._need = [], 0, 0
            if len(rest) == 1:
                return self._parse_run(rest[0], frames)
            for c in rest:
                self._chunks.append(c)
                self._have += len(c)

    def _parse_run(self, data, frames):
        """Whole frames straight from one buffer; an unfinished frame at its end is kept."""
        n = len(data)
        off = 0
        if n >= 4:
            limit = self.max_frame
            with memoryview(data) as view:
                while n - off >= 4:
                    (size,) = _U32.unpack_from(view, off)
                    if size > limit:
                        raise ProtocolError("frame of %d bytes exceeds the %d byte limit" % (size, limit))
                    end = off + 4 + size
                    if end > n:
                        self._need = 4 + size
                        break
                    frames.append(_parse_body(view, off + 4, end))
                    off = end
        if off < n:
            # Kept for the next feed: a view of immutable bytes, else a copy (the caller may reuse
            # its buffer).
            if type(data) is bytes:
                rest = memoryview(data)[off:] if off else data
            else:
                rest = bytes(memoryview(data)[off:])
            self._chunks = [rest]
            self._have = n - off
        return frames


class _Span:
    """Random access to the bytes of a chunk list, each range copied once into a bytes object."""

    def __init__(self, chunks):
        self.chunks = chunks
        starts = []
        pos = 0
        for c in chunks:
            starts.append(pos)
            pos += len(c)
        self.starts = starts

    def take(self, a, b):
        """bytes[a:b] of the concatenated chunks."""
        chunks, starts = self.chunks, self.starts
        i = bisect.bisect_right(starts, a) - 1
        first = chunks[i]
        lo = a - starts[i]
        if b - starts[i] <= len(first):
            return bytes(memoryview(first)[lo:b - starts[i]])
        parts = [memoryview(first)[lo:]]
        i += 1
        while b > starts[i] + len(chunks[i]):
            parts.append(chunks[i])
            i += 1
        parts.append(memoryview(chunks[i])[:b - starts[i]])
        return b"".join(parts)

    def after(self, a):
        """The chunks (or their tails) from offset a on."""
        chunks, starts = self.chunks, self.starts
        i = bisect.bisect_right(starts, a) - 1
        lo = a - starts[i]
        head = chunks[i]
        rest = chunks[i + 1:]
        if lo < len(head):
            rest.insert(0, memoryview(head)[lo:] if lo else head)
        return rest


def _parse_span(span, start, end):
    """_parse_body for a frame that spans chunks: every section is copied once."""
    if end - start < 13:
        raise ProtocolError("frame body of %d bytes is shorter than 13" % (end - start))
    kind, call_id, head_len = _BODY.unpack(span.take(start, start + 9))
    p = start + 9
    q = p + head_len
    if q + 4 > end:
        raise ProtocolError("head length %d runs past the end of the frame" % head_len)
    head = span.take(p, q)
    (payload_len,) = _U32.unpack(span.take(q, q + 4))
    p = q + 4
    q = p + payload_len
    if q > end:
        raise ProtocolError("payload length %d runs past the end of the frame" % payload_len)
    payload = span.take(p, q)
    blobs = None
    while q < end:
        if q + 4 > end:
            raise ProtocolError("truncated blob length")
        (blob_len,) = _U32.unpack(span.take(q, q + 4))
        p = q + 4
        q = p + blob_len
        if q > end:
            raise ProtocolError("blob length %d runs past the end of the frame" % blob_len)
        if blobs is None:
            blobs = []
        blobs.append(span.take(p, q))
    return kind, call_id, head, payload, blobs


def _parse_body(view, start, end):
    if end - start < 13:
        raise ProtocolError("frame body of %d bytes is shorter than 13" % (end - start))
    kind, call_id, head_len = _BODY.unpack_from(view, start)
    p = start + 9
    q = p + head_len
    if q + 4 > end:
        raise ProtocolError("head length %d runs past the end of the frame" % head_len)
    head = view[p:q].tobytes()
    (payload_len,) = _U32.unpack_from(view, q)
    p = q + 4
    q = p + payload_len
    if q > end:
        raise ProtocolError("payload length %d runs past the end of the frame" % payload_len)
    payload = view[p:q].tobytes()
    blobs = None
    while q < end:
        if q + 4 > end:
            raise ProtocolError("truncated blob length")
        (blob_len,) = _U32.unpack_from(view, q)
        p = q + 4
        q = p + blob_len
        if q > end:
            raise ProtocolError("blob length %d runs past the end of the frame" % blob_len)
        if blobs is None:
            blobs = []
        blobs.append(view[p:q].tobytes())
    return kind, call_id, head, payload, blobs


# ----------------------------------------------------------------------------- writing

class FrameWriter:
    """Writes whole frames to a file descriptor; one lock so threads never interleave frames."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()

    def write(self, frame):
        fd = self.fd
        with self.lock:
            n = os.write(fd, frame)
            if n < len(frame):
                view = memoryview(frame)
                total = len(frame)
                while n < total:
                    n += os.write(fd, view[n:])

    def write_parts(self, parts):
        """Write a frame given as a list of buffers (encode_frame_parts) with writev, no join."""
        fd = self.fd
        parts = [memoryview(p) for p in parts if len(p)]
        with self.lock:
            while parts:
                n = os.writev(fd, parts)
                while parts and n >= len(parts[0]):
                    n -= len(parts[0])
                    parts.pop(0)
                if n:
                    parts[0] = parts[0][n:]


class FrameSink:
    """The pipe transport's output: every answer becomes one whole frame on a FrameWriter.

    The executor and the worker send through a sink (see executor.py), so the same call logic
    serves the gRPC transport, whose sink puts messages on its stream instead.
    """

    def __init__(self, writer):
        self.writer = writer
        self.write = writer.write

    def ready(self, payload):
        self.write(encode_frame(READY, 0, b"", payload))

    def result(self, call_id, payload, blobs):
        self._value(RESULT, call_id, payload, blobs)

    def chunk(self, call_id, payload, blobs):
        self._value(CHUNK, call_id, payload, blobs)

    def _value(self, kind, call_id, payload, blobs):
        if len(payload) > WRITEV_BYTES or (blobs and len(blobs) <= MAX_WRITEV_PARTS and len(payload) + sum(len(b) for b in blobs) > WRITEV_BYTES):
            self.writer.write_parts(encode_frame_parts(kind, call_id, b"", payload, blobs))
        else:
            self.write(encode_frame(kind, call_id, b"", payload, blobs))

    def end(self, call_id):
        self.write(encode_frame(END, call_id))

    def error(self, call_id, code, message, type=None, traceback=None):
        body = {"code": code, "message": message}
        if type is not None:
            body["type"] = type
        if traceback is not None:
            body["traceback"] = traceback
        self.write(encode_frame(ERROR, call_id, b"", encode_value(body)[0]))

    def pong(self, seq):
        self.write(encode_frame(PONG, seq))

    def log(self, call_id, level, logger_name, message):
        head = encode_json({"level": level, "logger": logger_name})
        self.write(encode_frame(LOG, call_id, head, encode_value(message)[0]))
