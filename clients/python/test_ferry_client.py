"""Tests of ferry_client against a running sidecar (standard library unittest).

The socket comes from FERRY_SIDECAR_SOCKET; without it every test is skipped. Run:
    FERRY_SIDECAR_SOCKET=/tmp/ferry-sidecar.sock python3 -m unittest -v test_ferry_client
"""

import glob
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

import ferry_client
from ferry_client import FerryClient, FerryError, MemfdBuffer

SOCKET = os.environ.get("FERRY_SIDECAR_SOCKET")
TCP = os.environ.get("FERRY_SIDECAR_TCP")  # host:port of the sidecar's TCP listener, if any
TOKEN = os.environ.get("FERRY_SIDECAR_TOKEN")
BLOCK = 64 * 1024
_next = [int.from_bytes(os.urandom(6), "little") << 12]


def fresh_keys(n):
    """Keys no other test (or earlier run against the same sidecar) used."""
    start = _next[0]
    _next[0] += n
    return list(range(start, start + n))


@unittest.skipUnless(SOCKET, "FERRY_SIDECAR_SOCKET is not set: no sidecar to test against")
class FerryClientTest(unittest.TestCase):
    def setUp(self):
        self.ferry = FerryClient(SOCKET)
        self.buf = MemfdBuffer(1 << 20)
        self.buf_id = self.ferry.register_buffer(self.buf)

    def tearDown(self):
        self.ferry.close()
        self.buf.close()

    def assertStatus(self, name, call, *args):
        with self.assertRaises(FerryError) as caught:
            call(*args)
        self.assertEqual(caught.exception.name, name, str(caught.exception))
        return caught.exception

    def test_hello_reports_a_local_connection(self):
        self.assertTrue(self.ferry.shared_buffers)
        self.assertGreaterEqual(self.ferry.max_frame_bytes, 4096)

    def test_put_and_get_real_bytes_through_shared_memory(self):
        keys = fresh_keys(3)
        blocks = [os.urandom(BLOCK) for _ in keys]
        for i, block in enumerate(blocks):
            self.buf.view[i * BLOCK:(i + 1) * BLOCK] = block
        self.assertEqual(self.ferry.put(keys, self.buf_id, [0, BLOCK, 2 * BLOCK], [BLOCK] * 3), [0, 0, 0])
        self.assertEqual(self.ferry.put(keys, self.buf_id, [0, BLOCK, 2 * BLOCK], [BLOCK] * 3), [1, 1, 1])
        self.buf.view[0:3 * BLOCK] = bytes(3 * BLOCK)  # the reads below must bring the bytes back
        lengths = self.ferry.get([keys[2], keys[0]], self.buf_id, [4 * BLOCK, 5 * BLOCK], [BLOCK, BLOCK])
        self.assertEqual(lengths, [BLOCK, BLOCK])
        self.assertEqual(bytes(self.buf.view[4 * BLOCK:5 * BLOCK]), blocks[2])
        self.assertEqual(bytes(self.buf.view[5 * BLOCK:6 * BLOCK]), blocks[0])

    def test_call_times_count_each_request_and_its_parts(self):
        keys = fresh_keys(2)
        self.buf.view[0:BLOCK] = os.urandom(BLOCK)
        before = self.ferry.call_times()
        self.ferry.put(keys, self.buf_id, [0, 0], [BLOCK, BLOCK])
        self.ferry.exists(keys)
        self.ferry.exists(keys)
        times = self.ferry.call_times()
        self.assertEqual(times[ferry_client.PUT][0] - before.get(ferry_client.PUT, (0,))[0], 1)
        self.assertEqual(times[ferry_client.EXISTS][0] - before.get(ferry_client.EXISTS, (0,))[0], 2)
        calls, send_ns, wait_ns, read_ns = times[ferry_client.EXISTS]
        self.assertGreater(wait_ns, 0)  # an answer cannot come before its request was sent
        self.assertTrue(send_ns >= 0 and read_ns >= 0)

    def test_prefix_lookup_counts_leading_hits(self):
        keys = fresh_keys(5)
        self.buf.view[0:BLOCK] = os.urandom(BLOCK)
        self.ferry.put(keys[:3], self.buf_id, [0, 0, 0], [BLOCK] * 3)
        self.assertEqual(self.ferry.lookup_prefix(keys), 3)
        self.assertEqual(self.ferry.lookup_prefix(keys[3:] + keys[:3]), 0)
        self.assertEqual(self.ferry.lookup_prefix([]), 0)

    def test_exists_and_remove(self):
        a, b = fresh_keys(2)
        self.buf.view[0:4096] = os.urandom(4096)
        self.ferry.put([a], self.buf_id, [0], [4096])
        self.assertEqual(self.ferry.exists([a, b]), [True, False])
        self.assertEqual(self.ferry.remove([a, b]), [0, 1])
        self.assertEqual(self.ferry.exists([a]), [False])
        self.assertEqual(self.ferry.get([a], self.buf_id, [0], [4096]), [-1])

    def test_put_options_pin_this_connections_puts_and_remove_all_keeps_them_unless_forced(self):
        pinned, plain = fresh_keys(2)
        self.buf.view[0:4096] = os.urandom(4096)
        self.ferry.put_options(1, hard_pin=True)
        self.assertEqual(self.ferry.put([pinned], self.buf_id, [0], [4096]), [0])
        self.ferry.put_options()
        self.assertEqual(self.ferry.put([plain], self.buf_id, [0], [4096]), [0])
        self.assertGreaterEqual(self.ferry.remove_all(), 1)  # the whole store: other tests' blocks too
        self.assertEqual(self.ferry.exists([pinned, plain]), [True, False])
        self.assertGreaterEqual(self.ferry.remove_all(force=True), 1)
        self.assertEqual(self.ferry.exists([pinned]), [False])
        self.assertStatus("OUT_OF_RANGE", self.ferry.put_options, 0)
        self.assertStatus("OUT_OF_RANGE", self.ferry.put_options, 65, True)

    def test_unknown_key_is_reported(self):
        (missing,) = fresh_keys(1)
        self.assertEqual(self.ferry.get([missing], self.buf_id, [0], [BLOCK]), [-1])
        self.assertEqual(self.ferry.get_inline([missing]), [None])
        error = self.assertStatus("NOT_FOUND", self.ferry.read_range, missing, 0, self.buf_id, 0, 16)
        self.assertIn("%032x" % missing, str(error))  # a block key is named by its 32 hex digits

    def test_out_of_range_offsets_are_refused_and_change_nothing(self):
        (key,) = fresh_keys(1)
        size = self.buf.size
        self.assertStatus("OUT_OF_RANGE", self.ferry.put, [key], self.buf_id, [size - 100], [4096])
        self.assertStatus("OUT_OF_RANGE", self.ferry.get, [key], self.buf_id, [size], [1])
        self.assertStatus("OUT_OF_RANGE", self.ferry.put, [key], self.buf_id, [0], [0])
        self.assertEqual(self.ferry.exists([key]), [False])
        self.buf.view[0:BLOCK] = os.urandom(BLOCK)
        self.ferry.put([key], self.buf_id, [0], [BLOCK])
        self.assertStatus("OUT_OF_RANGE", self.ferry.read_range, key, BLOCK - 8, self.buf_id, 0, 16)
        self.assertStatus("OUT_OF_RANGE", self.ferry.get, [key], self.buf_id, [0], [BLOCK - 1])

    def test_buffers_of_other_connections_are_refused(self):
        with FerryClient(SOCKET) as other:
            self.assertStatus("UNKNOWN_BUFFER", other.put, [1], self.buf_id, [0], [16])
            self.assertStatus("UNKNOWN_BUFFER", other.unregister_buffer, self.buf_id)
        error = self.assertStatus("OUT_OF_RANGE", register_path, self.ferry, "/etc/hostname", 4)
        self.assertIn("plain files are refused", str(error))

    def test_a_file_buffer_is_refused_so_shrinking_it_cannot_crash_the_sidecar(self):
        # A user's reproduction: a 1 MiB file registered, truncated to 4 KiB, then a PUT from 512 KiB
        # killed the sidecar with SIGBUS. No file is mapped any more, by name or by descriptor.
        path = "/dev/shm/ferry-py-test-%d.buf" % os.getpid()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, 1 << 20)
            error = self.assertStatus("OUT_OF_RANGE", register_path, self.ferry, path, 1 << 20)
            self.assertIn("plain files are refused", str(error))
            by_fd = "/proc/%d/fd/%d" % (os.getpid(), fd)
            error = self.assertStatus("OUT_OF_RANGE", register_path, self.ferry, by_fd, 1 << 20)
            self.assertIn("sealed against shrinking", str(error))
            error = self.assertStatus("OUT_OF_RANGE", self.ferry.register_memfd,
                                      type("F", (), {"fd": fd, "size": 1 << 20})())
            self.assertIn("sealed against shrinking", str(error))
        finally:
            os.close(fd)
            os.unlink(path)
        # A sealed memfd cannot shrink: the kernel refuses, and the sidecar serves on.
        with self.assertRaises(OSError):
            os.ftruncate(self.buf.fd, 4096)
        (key,) = fresh_keys(1)
        self.buf.view[512 * 1024:576 * 1024] = os.urandom(64 * 1024)
        self.assertEqual(self.ferry.put([key], self.buf_id, [512 * 1024], [64 * 1024]), [0])

    def test_a_buffer_never_aliases_store_memory_or_another_clients_buffer(self):
        with FerryClient(SOCKET) as other:
            # This connection's memfd, by descriptor or by its /proc path, on another connection.
            error = self.assertStatus("OUT_OF_RANGE", other.register_memfd, self.buf)
            self.assertIn("mapped by the sidecar", str(error))
            by_fd = "/proc/%d/fd/%d" % (os.getpid(), self.buf.fd)
            self.assertStatus("OUT_OF_RANGE", register_path, other, by_fd, self.buf.size)
            # Someone else's descriptor path.
            error = self.assertStatus("OUT_OF_RANGE", register_path, other, "/proc/1/fd/0", 4096)
            self.assertIn("/proc/%d/fd/" % os.getpid(), str(error))
            # Store memory: every slab file this user can open (the sidecar's among them).
            for slab in glob.glob("/dev/shm/ferry-*.slab"):
                try:
                    fd = os.open(slab, os.O_RDWR)
                except OSError:
                    continue
                try:
                    self.assertStatus("OUT_OF_RANGE", other.register_memfd,
                                      type("S", (), {"fd": fd, "size": os.fstat(fd).st_size})())
                finally:
                    os.close(fd)
            self.assertEqual(other.exists([1]), [False])  # refused, and still serving

    def test_memfd_framing_abuse_closes_the_connection_with_a_reason(self):
        # Two bytes with the descriptor: the framing is lost, the connection is closed.
        with FerryClient(SOCKET) as ferry, MemfdBuffer(4096) as memfd:
            request_id = ferry._send(ferry_client.REGISTER_MEMFD, struct.pack("<Q", 4096))
            ferry._receive(request_id)
            socket.send_fds(ferry._sock, [b"\0\0"], [memfd.fd])
            error = self.assertStatus("MALFORMED", ferry._receive, request_id)
            self.assertIn("exactly one byte", str(error))
            assert_closed(self, ferry._sock)
        # One byte and no descriptor: answered with the reason once the frame timeout passes.
        with FerryClient(SOCKET) as ferry:
            request_id = ferry._send(ferry_client.REGISTER_MEMFD, struct.pack("<Q", 4096))
            ferry._receive(request_id)
            ferry._sock.sendall(b"\0")
            error = self.assertStatus("MALFORMED", ferry._receive, request_id)
            self.assertIn("announced a memfd, none came", str(error))
            assert_closed(self, ferry._sock)

    def test_a_second_hello_and_a_token_on_the_unix_socket_are_refused(self):
        hello = struct.pack("<HHH", 1, 1, 0)
        error = self.assertStatus("BAD_STATE", self.ferry._call, ferry_client.HELLO, hello)
        self.assertIn("one per connection", str(error))
        self.assertEqual(self.ferry.exists([1]), [False])
        error = self.assertStatus("MALFORMED", FerryClient, SOCKET, None, None, "s3cret")
        self.assertIn("takes no token", str(error))

    def test_version_two_carries_128_bit_keys_and_version_one_clients_share_the_64_bit_ones(self):
        self.assertEqual(self.ferry.version, 3)
        narrow = fresh_keys(1)[0]
        wide = os.urandom(8) + narrow.to_bytes(8, "big")  # same low half as the 64-bit key
        with FerryClient(SOCKET, max_version=1) as old:
            self.assertEqual(old.version, 1)
            self.assertEqual(old.put_inline([narrow], [b"narrow bytes"]), [0])
            # The 64-bit key k of version 1 is the 128-bit key k of version 2, as an int or as 16 bytes.
            self.assertEqual(self.ferry.get_inline([narrow, narrow.to_bytes(16, "big")]),
                             [b"narrow bytes", b"narrow bytes"])
            self.assertEqual(self.ferry.exists([wide]), [False])
            self.assertEqual(self.ferry.put_inline([wide], [b"wide bytes"]), [0])
            self.assertEqual(self.ferry.get_inline([wide]), [b"wide bytes"])
            self.assertEqual(old.get_inline([narrow]), [b"narrow bytes"])
            with self.assertRaises(ValueError):
                old.exists([wide])  # version 1 cannot carry it: refused before anything is sent
            self.assertEqual(old.exists([narrow]), [True])
            with self.assertRaises(ValueError):
                self.ferry.exists([wide[:8]])
            self.assertEqual(self.ferry.remove([wide, narrow]), [0, 0])
        error = self.assertStatus("UNSUPPORTED_VERSION", FerryClient, SOCKET, None, None, None, 30.0, 4, 5)
        self.assertIn("speaks versions 1..3", str(error))

    def test_version_three_stores_string_keys_with_values_and_compares_them(self):
        self.assertEqual(self.ferry.version, 3)
        self.assertTrue(self.ferry.segment_name.endswith("/dram"))
        self.assertRegex(self.ferry.data_address, r"^[^:]+:\d+$")
        shared = fresh_keys(1)[0]  # one block key for two string keys, as a digest collision would give
        name_a, name_b = ("%d/a" % shared).encode(), ("%d/b" % shared).encode()
        self.buf.view[0:5] = b"hello"
        self.assertEqual(self.ferry.put_named([(shared, name_a, self.buf_id, 0, 5)]), [0])
        self.assertEqual(self.ferry.put_named([(shared, name_b, ferry_client.INLINE, 0, 3)], b"bbb"),
                         [ferry_client.OTHER_KEY])
        self.assertEqual(self.ferry.put_named([(shared, name_a, ferry_client.INLINE, 0, 3)], b"new"), [1])
        lengths, values = self.ferry.get_named([(shared, name_a, ferry_client.INLINE, 0, 100),
                                                (shared, name_b, ferry_client.INLINE, 0, 100),
                                                (shared, name_a, self.buf_id, 4096, 4096),
                                                (shared, name_a, self.buf_id, 8192, 8)])
        self.assertEqual(lengths, [5, ferry_client.MISMATCH, 5, ferry_client.TOO_LONG])
        self.assertEqual(values, [b"hello", None, None, None])
        at = 4096 + 16 + len(name_a)  # the value follows the stored key's header
        self.assertEqual(bytes(self.buf.view[at:at + 5]), b"hello")
        self.assertEqual(self.ferry.stat_named([shared, shared], [name_a, name_b]), [5, ferry_client.MISMATCH])
        lengths, copies = self.ferry.stat_named([shared, shared], [name_a, name_b], replicas=True)
        self.assertEqual(lengths, [5, ferry_client.MISMATCH])
        self.assertEqual(len(copies[0]), 1)
        segment, offset, length, on_ssd = copies[0][0]
        self.assertEqual((segment, length, on_ssd), (self.ferry.segment_name, 16 + len(name_a) + 5, False))
        self.assertEqual(copies[1], [])  # another key's block: where it lies is not told
        self.assertEqual(self.ferry.remove_by_regex("^%d/b$" % shared), 0)
        self.assertEqual(self.ferry.remove_by_regex("^%d/a$" % shared), 1)
        self.assertEqual(self.ferry.stat_named([shared], [name_a]), [ferry_client.MISSING])
        self.assertStatus("OUT_OF_RANGE", self.ferry.remove_by_regex, "(")
        with FerryClient(SOCKET, max_version=2) as v2:
            self.assertEqual(v2.segment_name, "")
            self.assertStatus("UNKNOWN_OPCODE", v2.stat_named, [shared], [name_a])
            with self.assertRaises(ValueError):  # a soft pin needs version 3: refused before anything is sent
                v2.put_options(1, False, 1000)

    def test_a_frame_too_large_is_reported_by_its_status(self):
        with FerryClient(SOCKET) as ferry:
            request_id = 77
            ferry._sock.sendall(struct.pack("<IHHQ", ferry.max_frame_bytes + 1, ferry_client.EXISTS, 0, request_id))
            error = self.assertStatus("FRAME_TOO_LARGE", ferry._receive, request_id)
            self.assertIn(str(ferry.max_frame_bytes), str(error))

    def test_layer_by_layer_put_is_visible_only_after_commit(self):
        (key,) = fresh_keys(1)
        block = os.urandom(BLOCK)
        self.buf.view[0:BLOCK] = block
        layer = BLOCK // 8
        self.assertEqual(self.ferry.put_start([key], [BLOCK]), [0])
        for i in reversed(range(8)):
            self.ferry.write_range(key, i * layer, self.buf_id, i * layer, layer)
            self.assertEqual(self.ferry.exists([key]), [False])
        self.ferry.put_commit([key])
        self.assertEqual(self.ferry.get_inline([key]), [block])
        self.ferry.read_range(key, 3 * layer, self.buf_id, BLOCK, layer)
        self.assertEqual(bytes(self.buf.view[BLOCK:BLOCK + layer]), block[3 * layer:4 * layer])

    def test_incomplete_block_cannot_be_committed(self):
        (key,) = fresh_keys(1)
        self.ferry.put_start([key], [BLOCK])
        self.ferry.write_range(key, 0, self.buf_id, 0, BLOCK // 2)
        self.assertStatus("BAD_STATE", self.ferry.put_commit, [key])
        self.ferry.put_abort([key])
        self.assertEqual(self.ferry.exists([key]), [False])

    def test_inline_bytes_round_trip(self):
        keys = fresh_keys(2)
        blocks = [os.urandom(1000), os.urandom(50_000)]
        self.assertEqual(self.ferry.put_inline(keys, blocks), [0, 0])
        self.assertEqual(self.ferry.get_inline(keys), blocks)

    def test_a_put_of_a_key_stored_with_another_length_is_refused(self):
        key, other = fresh_keys(2)
        block = os.urandom(1000)
        self.assertEqual(self.ferry.put_inline([key], [block]), [0])
        self.assertEqual(self.ferry.put_inline([key], [block]), [1])
        error = self.assertStatus("BAD_STATE", self.ferry.put_inline, [other, key], [block, os.urandom(2000)])
        self.assertIn("with 1000 bytes, not the 2000", str(error))
        self.assertStatus("BAD_STATE", self.ferry.put_start, [key], [2000])
        self.assertEqual(self.ferry.get_inline([key]), [block])
        self.assertEqual(self.ferry.exists([other]), [False])

    def test_sealed_memfd_buffer_round_trip(self):
        keys = fresh_keys(2)
        with FerryClient(SOCKET) as ferry, MemfdBuffer(4 * BLOCK) as memfd:
            memfd_id = ferry.register_memfd(memfd)
            blocks = [os.urandom(BLOCK), os.urandom(BLOCK)]
            memfd.view[0:BLOCK] = blocks[0]
            memfd.view[BLOCK:2 * BLOCK] = blocks[1]
            self.assertEqual(ferry.put(keys, memfd_id, [0, BLOCK], [BLOCK, BLOCK]), [0, 0])
            self.assertEqual(ferry.get(keys, memfd_id, [2 * BLOCK, 3 * BLOCK], [BLOCK, BLOCK]), [BLOCK, BLOCK])
            self.assertEqual(bytes(memfd.view[2 * BLOCK:4 * BLOCK]), blocks[0] + blocks[1])
            # The same blocks inline, on another connection.
            self.assertEqual(self.ferry.get_inline(keys), blocks)

    def test_unsealed_memfd_is_refused(self):
        fd = os.memfd_create("unsealed", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, 4096)
            unsealed = type("Unsealed", (), {"fd": fd, "size": 4096})()
            error = self.assertStatus("OUT_OF_RANGE", self.ferry.register_memfd, unsealed)
            self.assertIn("sealed against shrinking", str(error))
        finally:
            os.close(fd)
        self.assertEqual(self.ferry.exists([1]), [False])  # the connection still serves

    def test_client_killed_mid_put_leaves_nothing_visible(self):
        (key,) = fresh_keys(1)
        child = subprocess.Popen([sys.executable, "-c", _HALF_PUT, SOCKET, str(key)], stdout=subprocess.PIPE,
                                 cwd=os.path.dirname(os.path.abspath(__file__)))
        self.assertEqual(child.stdout.readline().strip(), b"half-written")
        child.kill()
        child.wait()
        child.stdout.close()
        self.assertEqual(self.ferry.exists([key]), [False])
        self.assertEqual(self.ferry.lookup_prefix([key]), 0)
        # The sidecar aborts the dead client's put: the key can then be written afresh. Until then
        # a put_start of the same length answers 1 (being written); another length would be BAD_STATE.
        deadline = time.monotonic() + 10
        while self.ferry.put_start([key], [65536]) != [0]:
            self.assertLess(time.monotonic(), deadline, "the killed client's put was never aborted")
            time.sleep(0.05)
        self.ferry.put_abort([key])


@unittest.skipUnless(TCP and TOKEN, "FERRY_SIDECAR_TCP and FERRY_SIDECAR_TOKEN are not set: no TCP listener to test")
class FerryTcpClientTest(unittest.TestCase):
    def setUp(self):
        host, port = TCP.rsplit(":", 1)
        self.address = dict(host=host, port=int(port))

    def test_wrong_token_is_refused_and_the_connection_closed(self):
        with self.assertRaises(FerryError) as caught:
            FerryClient(token="not-" + TOKEN, **self.address)
        self.assertEqual(caught.exception.name, "UNAUTHORIZED")

    def test_bytes_travel_inline_with_the_token(self):
        with FerryClient(token=TOKEN, **self.address) as ferry:
            self.assertFalse(ferry.shared_buffers)  # TCP, loopback too: bytes inline only
            with MemfdBuffer(4096) as memfd:
                with self.assertRaises(FerryError) as caught:
                    register_path(ferry, "/proc/%d/fd/%d" % (os.getpid(), memfd.fd), 4096)
                self.assertEqual(caught.exception.name, "NOT_LOCAL")
            keys = fresh_keys(2)
            blocks = [os.urandom(3000), os.urandom(BLOCK)]
            self.assertEqual(ferry.put_inline(keys, blocks), [0, 0])
            self.assertEqual(ferry.get_inline(list(reversed(keys))), list(reversed(blocks)))
            self.assertEqual(ferry.lookup_prefix(keys), 2)

    @unittest.skipUnless(os.environ.get("FERRY_TLS_DIR"), "FERRY_TLS_DIR is not set: the TCP port is plain")
    def test_a_client_without_tls_gets_nothing_from_a_tls_port(self):
        # The port speaks mutual TLS (the other tests of this class pass through it with $FERRY_TLS_DIR).
        with self.assertRaises((ConnectionError, OSError)):
            FerryClient(token=TOKEN, tls_dir="", **self.address)


def assert_closed(test, sock):
    """The sidecar closed the connection: end of stream, or a reset when bytes it never read were left."""
    try:
        test.assertEqual(sock.recv(1), b"")
    except ConnectionResetError:
        pass


def register_path(ferry, path, size):
    """REGISTER_BUFFER by path (what the Java client does with /proc/<pid>/fd/<n> of a memfd)."""
    data = path.encode("utf-8")
    return ferry._call(ferry_client.REGISTER_BUFFER, struct.pack("<QH", size, len(data)) + data)


_HALF_PUT = """
import sys, os
from ferry_client import FerryClient, MemfdBuffer
ferry = FerryClient(sys.argv[1])
buf = MemfdBuffer(65536)
buf_id = ferry.register_buffer(buf)
key = int(sys.argv[2])
ferry.put_start([key], [65536])
ferry.write_range(key, 0, buf_id, 0, 32768)
print("half-written", flush=True)
__import__("time").sleep(60)
"""

if __name__ == "__main__":
    unittest.main()
