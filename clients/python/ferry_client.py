"""Python client of the Ferry sidecar (standard library only: socket, mmap, struct, fcntl).

The sidecar serves the protocol of docs/protocol.md on a Unix domain socket. Block bytes
never cross the socket: the client creates a shared buffer (MemfdBuffer: a memfd sealed
against shrinking, so that the sidecar's accesses to it can never fault), registers it
(the descriptor travels over the socket), and names (buffer id, offset, length) in its
requests; the sidecar's transfer engine reads and writes that memory directly.

    from ferry_client import FerryClient, MemfdBuffer

    with FerryClient("/tmp/ferry-sidecar.sock") as ferry, MemfdBuffer(1 << 20) as buf:
        buf_id = ferry.register_buffer(buf)
        buf.view[0:4096] = block_bytes
        ferry.put([key], buf_id, [0], [4096])              # [0]: stored (1: was there)
        ferry.get([key], buf_id, [8192], [4096])           # [4096]: length (-1: missing)

Shared buffers need the Unix socket, as the sidecar's user; over TCP (remote clients, and
loopback ones too) blocks travel in the frames: put_inline, get_inline.

A block key is an int, a 64-bit key (any 64-bit value; negative Python ints are taken
modulo 2**64), or, on a connection of protocol version 2 or later, a 128-bit key given as its 16
bytes (bytes of a digest, big-endian: the int k is the 16 bytes k.to_bytes(16, "big")).
The client offers versions 1 to 3 and speaks what the sidecar answers (`version`); a
16-byte key on a version-1 connection raises ValueError before anything is sent. Version 3
adds named blocks (put_named, get_named, stat_named, remove_by_regex: the sidecar stores a
string key with each value and compares it on every hit), a soft pin and a preferred
segment in put_options, and the sidecar's `segment_name` and `data_address`.
A client object is not thread-safe: use one per thread, or a lock.
Errors answered by the sidecar raise FerryError with its status, errors of the whole
connection (request id 0: a frame too large, a stall, shutdown) included.
"""

import fcntl
import mmap
import os
import socket
import ssl
import struct
import time

VERSION = 3  # highest protocol version this client speaks: 16-byte keys, named blocks
MIN_VERSION = 1  # 8-byte keys (sidecars of earlier builds)

# Opcodes.
HELLO = 1
REGISTER_BUFFER = 2
UNREGISTER_BUFFER = 3
PUT = 4
GET = 5
EXISTS = 6
REMOVE = 7
LOOKUP_PREFIX = 8
PUT_START = 9
WRITE_RANGE = 10
PUT_COMMIT = 11
PUT_ABORT = 12
READ_RANGE = 13
PUT_INLINE = 14
GET_INLINE = 15
REGISTER_MEMFD = 16
REMOVE_ALL = 17
PUT_OPTIONS = 18
# Version 3: named blocks.
PUT_NAMED = 22
GET_NAMED = 23
STAT_NAMED = 24
REMOVE_BY_REGEX = 25
NAMED_VERSION = 3
INLINE = 0xFFFFFFFF  # buffer id of a put_named / get_named entry whose value travels in the frame
OTHER_KEY = 2  # put_named: the block key holds another string key's value
MISSING, MISMATCH, TOO_LONG = -1, -2, -3  # get_named / stat_named answers besides a value length
PUT_FROM = 19
GET_INTO = 20
PROCESS_MEMORY = 0xFFFFFFFF  # the buffer id of PUT_FROM / GET_INTO that names this process's own memory
NO_PROCESS_ACCESS = 17  # the sidecar may not reach this process's private memory

STATUS_NAMES = [
    "OK", "MALFORMED", "UNSUPPORTED_VERSION", "UNAUTHORIZED", "HELLO_REQUIRED", "UNKNOWN_OPCODE",
    "NOT_FOUND", "UNKNOWN_BUFFER", "OUT_OF_RANGE", "QUOTA_EXCEEDED", "FRAME_TOO_LARGE", "NO_SPACE",
    "BAD_STATE", "NOT_LOCAL", "STORE_ERROR", "SHUTTING_DOWN", "INTERNAL", "NO_PROCESS_ACCESS",
]

CONNECTION_ID = 0  # request id of answers about the whole connection; requests are numbered from 1

_HEADER = struct.Struct("<IHHQ")  # length (bytes after this field), opcode, status, request id
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MASK = (1 << 64) - 1


class FerryError(Exception):
    """An error answer of the sidecar: status code, its name, and the sidecar's message."""

    def __init__(self, status, message):
        self.status = status
        self.name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else "STATUS_%d" % status
        super().__init__("%s: %s" % (self.name, message))


class MemfdBuffer:
    """A shared-memory buffer that is a memfd (Linux), sealed against shrinking and growing.

    Nothing is left behind when the process dies, and the sealing guarantees the sidecar
    that the memory it maps stays there. Register it with FerryClient.register_buffer (the
    descriptor travels over the Unix socket with SCM_RIGHTS). The sidecar accepts no other
    kind of buffer: a file could be shrunk under it. `view` is a writable
    memoryview of its bytes; close() unmaps it and closes the descriptor.
    """

    def __init__(self, size, name="ferry-buffer"):
        self.size = size
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(self.fd, size)
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            self._map = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(self.fd)
            raise
        self.view = memoryview(self._map)

    def close(self):
        if self._map is None:
            return
        self.view.release()
        self._map.close()
        self._map = None
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tls_context(tls_dir):
    """A client SSLContext for a sidecar's TCP port with mutual TLS 1.3: `tls_dir` holds ca.pem (the
    cluster CA), cert.pem and key.pem (this client's certificate and key), as `ferry ca` writes them.
    Host names are not checked: the cluster CA vouches for its members (docs/operations.md)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=os.path.join(tls_dir, "ca.pem"))
    context.load_cert_chain(os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem"))
    return context


class FerryClient:
    """A connection to a sidecar, over its Unix socket (`path`) or TCP (`host`, `port`, `token`).

    Over TCP, `tls_dir` (default $FERRY_TLS_DIR) turns on mutual TLS 1.3 (see `tls_context`), which a
    sidecar serving TCP beyond loopback requires.

    Says HELLO on connect, offering protocol versions `min_version`..`max_version`;
    `version` (the one the sidecar chose), `max_frame_bytes` and `shared_buffers` (whether
    this connection may register buffers) come from the answer. One request at a time.
    """

    def __init__(self, path=None, host=None, port=None, token=None, timeout=30.0,
                 min_version=MIN_VERSION, max_version=VERSION, tls_dir=None):
        if path is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = path
        else:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = (host, port)
        self._sock.settimeout(timeout)
        self._next_id = 1
        self._times = {}  # opcode -> [calls, send ns, wait ns, read ns] (call_times)
        try:
            self._sock.connect(address)
            tls_dir = tls_dir if tls_dir is not None else os.environ.get("FERRY_TLS_DIR")
            if path is None and tls_dir:
                self._sock = tls_context(tls_dir).wrap_socket(self._sock, server_hostname=host)
            token_bytes = (token or "").encode("utf-8")
            body = self._call(HELLO, struct.pack("<HHH", min_version, max_version, len(token_bytes)) + token_bytes)
            self.version, flags, self.max_frame_bytes, self.max_in_flight, _, self.quota_bytes, self.session_id = \
                struct.unpack_from("<HHIIIQQ", body)
            self.shared_buffers = bool(flags & 1)
            self.segment_name = self.data_address = ""  # told by sidecars of version 3
            if self.version >= NAMED_VERSION:
                at = 32
                for field in ("segment_name", "data_address"):
                    n = struct.unpack_from("<H", body, at)[0]
                    setattr(self, field, bytes(body[at + 2:at + 2 + n]).decode("utf-8"))
                    at += 2 + n
        except BaseException:
            self._sock.close()
            raise

    # --- shared buffers -------------------------------------------------------------

    def register_buffer(self, buffer):
        """Registers a MemfdBuffer; returns its id (the same as register_memfd)."""
        return self.register_memfd(buffer)

    def register_memfd(self, buffer):
        """Registers a MemfdBuffer (or any object with .fd, a sealed memfd, and .size); returns its id.

        Two steps: the sidecar answers "ready", then the descriptor is sent with SCM_RIGHTS and
        the sidecar answers the buffer id. Only over the Unix socket, one request at a time.
        """
        request_id = self._send(REGISTER_MEMFD, struct.pack("<Q", buffer.size))
        self._receive(request_id)
        socket.send_fds(self._sock, [b"\0"], [buffer.fd])
        return _U32.unpack_from(self._receive(request_id))[0]

    def unregister_buffer(self, buffer_id):
        self._call(UNREGISTER_BUFFER, _U32.pack(buffer_id))

    # --- whole blocks through shared memory ------------------------------------------

    def put(self, keys, buffer_id, offsets, lengths):
        """Stores block keys[i] from lengths[i] bytes at offsets[i] of the buffer.

        Returns per key 0 (stored) or 1 (already in the store with this length: nothing written).
        Raises FerryError BAD_STATE when a key is in the store with another length (nothing of
        the call is written; remove the key first to store other bytes under it).
        """
        entries = b"".join(self._key(k) + struct.pack("<IIQQ", buffer_id, 0, o, n)
                           for k, o, n in zip(keys, offsets, lengths))
        return list(self._bytes(self._call(PUT, _U32.pack(len(keys)) + entries)))

    def get(self, keys, buffer_id, offsets, capacities):
        """Reads block keys[i] to offsets[i] of the buffer (capacities[i] bytes free there).

        Returns per key the block's length in bytes, or -1 when it is not in the store.
        """
        entries = b"".join(self._key(k) + struct.pack("<IIQQ", buffer_id, 0, o, c)
                           for k, o, c in zip(keys, offsets, capacities))
        body = self._call(GET, _U32.pack(len(keys)) + entries)
        n = _U32.unpack_from(body)[0]
        return list(struct.unpack_from("<%dq" % n, body, 4))

    # --- metadata ---------------------------------------------------------------------

    def exists(self, keys):
        """Per key, whether the block is in the store (SGLang batch_exists)."""
        return [b != 0 for b in self._bytes(self._call(EXISTS, self._keys(keys)))]

    def remove(self, keys):
        """Per key 0 (removed), 1 (not found) or 2 (leased by a reader: kept)."""
        return list(self._bytes(self._call(REMOVE, self._keys(keys))))

    def remove_all(self, force=False):
        """Removes every block of the store that no reader leases (with force, hard-pinned
        ones too); how many were removed. Sidecars of earlier builds answer UNKNOWN_OPCODE."""
        return struct.unpack_from("<q", self._call(REMOVE_ALL, b"\x01" if force else b"\x00"))[0]

    def put_options(self, replicas=1, hard_pin=False, soft_pin_ms=0, preferred_segment=None):
        """Sets how this connection's later put, put_inline, put_named and put_commit place and
        keep their blocks: replicas copies per new block (put_start places one), and with
        hard_pin a pin against eviction of every key put or committed. Version 3 only:
        soft_pin_ms (a soft pin of that many ms: such blocks are evicted only when no unpinned
        one can be) and preferred_segment (the segment of the first copy when it has room: a
        segment name, node id or data address host:port; None for the sidecar's own)."""
        body = struct.pack("<IB", replicas, 1 if hard_pin else 0)
        if soft_pin_ms or preferred_segment:
            if self.version < NAMED_VERSION:
                raise ValueError("soft pins and preferred segments need protocol version 3, this sidecar speaks %d"
                                 % self.version)
            segment = (preferred_segment or "").encode("utf-8")
            body += struct.pack("<QH", soft_pin_ms, len(segment)) + segment
        self._call(PUT_OPTIONS, body)

    # --- named blocks (version 3) -----------------------------------------------------

    def put_named(self, entries, inline=b""):
        """Stores values under string keys: entries of (block key, key bytes, buffer id, offset,
        length), the value being `length` bytes at `offset` of the buffer, or, with buffer id
        INLINE, of `inline` (carried in the frame). The sidecar writes the key before the value.
        Per key 0 stored, 1 already stored under this string key (nothing written), OTHER_KEY
        when the block key holds another string key's value (nothing written)."""
        fixed = b"".join(self._key(k) + struct.pack("<IIQQ", b, len(name), o, n) for k, name, b, o, n in entries)
        names = b"".join(name for _, name, _, _, _ in entries)
        return list(self._bytes(self._call(PUT_NAMED, _U32.pack(len(entries)) + fixed + names + bytes(inline))))

    def get_named(self, entries):
        """Reads values of string keys: entries of (block key, key bytes, buffer id, offset,
        capacity). The sidecar reads the whole block (the key's header, then the value) to
        `offset` of the buffer and compares the key. Answers (lengths, values): per key the
        value's length (it lies 16 + len(key bytes) bytes after `offset`), MISSING, MISMATCH
        (another key's block: the bytes read were zeroed) or TOO_LONG (the block is longer
        than `capacity`: nothing read); for INLINE entries (capacity bounds the value) `values`
        holds the value's bytes, None otherwise."""
        fixed = b"".join(self._key(k) + struct.pack("<IIQQ", b, len(name), o, c) for k, name, b, o, c in entries)
        names = b"".join(name for _, name, _, _, _ in entries)
        body = self._call(GET_NAMED, _U32.pack(len(entries)) + fixed + names)
        n = _U32.unpack_from(body)[0]
        lengths = list(struct.unpack_from("<%dq" % n, body, 4))
        at = 4 + 8 * n
        values = []
        for (_, _, buffer_id, _, _), length in zip(entries, lengths):
            if buffer_id == INLINE and length >= 0:
                values.append(bytes(body[at:at + length]))
                at += length
            else:
                values.append(None)
        return lengths, values

    def stat_named(self, keys, names, replicas=False):
        """Per (block key, key bytes) the value's length, MISSING or MISMATCH; only headers are read.

        With replicas, answers (lengths, copies): per key a list of (segment, offset, block
        length, on_ssd) of its block's copies now (empty unless its length was found)."""
        fixed = b"".join(self._key(k) + _U32.pack(len(name)) for k, name in zip(keys, names))
        body = self._call(STAT_NAMED, _U32.pack(len(keys)) + fixed + b"".join(names) + (b"\x01" if replicas else b""))
        n = _U32.unpack_from(body)[0]
        lengths = list(struct.unpack_from("<%dq" % n, body, 4))
        if not replicas:
            return lengths
        at, copies = 4 + 8 * n, []
        for _ in range(n):
            count = struct.unpack_from("<H", body, at)[0]
            at += 2
            here = []
            for _ in range(count):
                size = struct.unpack_from("<H", body, at)[0]
                segment = bytes(body[at + 2:at + 2 + size]).decode("utf-8")
                offset, length, tier = struct.unpack_from("<qqB", body, at + 2 + size)
                here.append((segment, offset, length, tier == 1))
                at += 2 + size + 17
            copies.append(here)
        return lengths, copies

    def remove_by_regex(self, pattern, force=False):
        """Removes every block whose string key matches the pattern (a Java regular expression,
        found anywhere in the key) and that no reader leases (with force, hard-pinned ones too);
        how many were removed. OUT_OF_RANGE for a pattern that does not compile."""
        p = pattern.encode("utf-8")
        return struct.unpack_from("<q", self._call(REMOVE_BY_REGEX, struct.pack("<BI", 1 if force else 0, len(p))
                                                   + p))[0]

    def lookup_prefix(self, keys):
        """How many leading keys are in the store (vLLM get_num_new_matched_tokens)."""
        return _U32.unpack_from(self._call(LOOKUP_PREFIX, self._keys(keys)))[0]

    # --- blocks in ranges (layer by layer) --------------------------------------------

    def put_start(self, keys, lengths):
        """Allocates blocks to write in ranges; per key 0 (write its ranges, then commit) or 1 (already there).

        Raises FerryError BAD_STATE when a key is there with another length (nothing is allocated).
        """
        entries = b"".join(self._key(k) + struct.pack("<Q", n) for k, n in zip(keys, lengths))
        return list(self._bytes(self._call(PUT_START, _U32.pack(len(keys)) + entries)))

    def write_range(self, key, block_offset, buffer_id, buffer_offset, length):
        """Writes `length` bytes at buffer_offset of the buffer to block_offset of a started block."""
        self._range(WRITE_RANGE, [(key, block_offset, buffer_id, buffer_offset, length)])

    def write_ranges(self, ranges):
        """Several write_range calls in one frame: an iterable of (key, block_offset, buffer_id, buffer_offset, length)."""
        self._range(WRITE_RANGE, list(ranges))

    def put_commit(self, keys):
        """Publishes started blocks; their ranges must cover each block exactly."""
        self._call(PUT_COMMIT, self._keys(keys))

    def put_abort(self, keys):
        self._call(PUT_ABORT, self._keys(keys))

    def read_range(self, key, block_offset, buffer_id, buffer_offset, length):
        """Reads `length` bytes at block_offset of a block to buffer_offset of the buffer."""
        self._range(READ_RANGE, [(key, block_offset, buffer_id, buffer_offset, length)])

    def read_ranges(self, ranges):
        self._range(READ_RANGE, list(ranges))

    # --- whole blocks in two parts (header, value) -------------------------------------

    def put_from(self, entries):
        """Stores blocks gathered from two parts each, in one request: an iterable of (key,
        header buffer id, header offset, header length, value buffer id, value offset, value
        length). A value buffer id of PROCESS_MEMORY names this process's own memory (the
        value offset is then its address: the sidecar reads it with process_vm_readv).

        Returns per key 0 (stored), 1 (already there) or 2 (the value's memory is not mapped
        readable: nothing stored). Raises FerryError NO_PROCESS_ACCESS when the sidecar may not
        reach this process's memory, BAD_STATE when a key is there with another length, and
        UNKNOWN_OPCODE from sidecars of earlier builds (nothing stored in each case).
        """
        entries = list(entries)
        body = b"".join(self._key(k) + struct.pack("<IIQQQQ", hb, vb, ho, hn, vo, vn)
                        for k, hb, ho, hn, vb, vo, vn in entries)
        return list(self._bytes(self._call(PUT_FROM, _U32.pack(len(entries)) + body)))

    def get_into(self, entries):
        """Reads whole blocks (CRC32C-checked) scattered in two parts, in one request: an
        iterable of (key, header buffer id, header offset, header capacity, value buffer id,
        value offset, value capacity). The block's first min(header capacity, length) bytes go
        to the header part, the rest to the value part (PROCESS_MEMORY: this process's memory at
        the address given as value offset, written with process_vm_writev).

        Returns per key the block's length, -1 when it is not in the store, -2 when the rest
        is longer than the value capacity (nothing copied), -3 when the value's memory is not
        mapped writable. Raises FerryError as put_from does.
        """
        entries = list(entries)
        body = b"".join(self._key(k) + struct.pack("<IIQQQQ", hb, vb, ho, hn, vo, vn)
                        for k, hb, ho, hn, vb, vo, vn in entries)
        answer = self._call(GET_INTO, _U32.pack(len(entries)) + body)
        n = _U32.unpack_from(answer)[0]
        return list(struct.unpack_from("<%dq" % n, answer, 4))

    # --- bytes in the frame (remote clients) ------------------------------------------

    def put_inline(self, keys, blocks):
        """Stores blocks carried in the frame (bytes-like each); per key 0 stored, 1 already there.

        Raises FerryError BAD_STATE when a key is there with another length, as put does.
        """
        entries = b"".join(self._key(k) + struct.pack("<Q", len(b)) for k, b in zip(keys, blocks))
        return list(self._bytes(self._call(PUT_INLINE, _U32.pack(len(keys)) + entries + b"".join(blocks))))

    def get_inline(self, keys):
        """Blocks carried back in the frame: bytes per key, or None when it is not in the store."""
        body = self._call(GET_INLINE, self._keys(keys))
        n = _U32.unpack_from(body)[0]
        lengths = struct.unpack_from("<%dq" % n, body, 4)
        at = 4 + 8 * n
        out = []
        for length in lengths:
            if length < 0:
                out.append(None)
            else:
                out.append(bytes(body[at:at + length]))
                at += length
        return out

    # --- plumbing ---------------------------------------------------------------------

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _range(self, opcode, ranges):
        entries = b"".join(self._key(k) + struct.pack("<QIIQQ", bo, b, 0, o, n) for k, bo, b, o, n in ranges)
        self._call(opcode, _U32.pack(len(ranges)) + entries)

    def _key(self, key):
        """A block key as this connection's version carries it: u64 LE (1) or 16 bytes big-endian (2)."""
        if isinstance(key, (bytes, bytearray, memoryview)):
            if len(key) != 16:
                raise ValueError("a block key given as bytes is 16 bytes, not %d" % len(key))
            if self.version < 2:
                raise ValueError("this sidecar speaks protocol version %d: 64-bit block keys only" % self.version)
            return bytes(key)
        k = key & _MASK
        return k.to_bytes(16, "big") if self.version >= 2 else _U64.pack(k)

    def _keys(self, keys):
        return _U32.pack(len(keys)) + b"".join(self._key(k) for k in keys)

    @staticmethod
    def _bytes(body):
        n = _U32.unpack_from(body)[0]
        return body[4:4 + n]

    def _call(self, opcode, body):
        t0 = time.perf_counter_ns()
        request_id = self._send(opcode, body)
        t1 = time.perf_counter_ns()
        header = self._read(16)
        t2 = time.perf_counter_ns()
        try:
            return self._receive(request_id, header)
        finally:
            spent = self._times.get(opcode)
            if spent is None:
                spent = self._times[opcode] = [0, 0, 0, 0]
            spent[0] += 1
            spent[1] += t1 - t0
            spent[2] += t2 - t1
            spent[3] += time.perf_counter_ns() - t2

    def call_times(self):
        """Per opcode, this connection's requests so far: {opcode: (calls, send_ns, wait_ns,
        read_ns)}: sending the frame, waiting for the answer's first bytes, reading and checking
        the rest (summed nanoseconds)."""
        return {op: tuple(v) for op, v in self._times.items()}

    def _send(self, opcode, body):
        request_id = self._next_id
        self._next_id += 1
        self._sock.sendall(_HEADER.pack(12 + len(body), opcode, 0, request_id) + body)
        return request_id

    def _receive(self, request_id, header=None):
        length, _, status, answer_id = _HEADER.unpack(header if header is not None else self._read(16))
        answer = self._read(length - 12)
        # Request id 0 is the connection's: an error about it (frame too large, stall, shutdown).
        if answer_id != request_id and not (answer_id == CONNECTION_ID and status != 0):
            raise FerryError(1, "answer for request %d, expected %d" % (answer_id, request_id))
        if status != 0:
            n = struct.unpack_from("<H", answer)[0]
            raise FerryError(status, bytes(answer[2:2 + n]).decode("utf-8", "replace"))
        return answer

    def _read(self, n):
        data = bytearray(n)
        view = memoryview(data)
        got = 0
        while got < n:
            k = self._sock.recv_into(view[got:], n - got)
            if k == 0:
                raise ConnectionError("the sidecar closed the connection")
            got += k
        return view

