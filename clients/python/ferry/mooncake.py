"""Mooncake Store's Python API (``mooncake.store``) served by a Ferry sidecar.

    from ferry.mooncake import MooncakeDistributedStore   # instead of: from mooncake.store import ...

    store = MooncakeDistributedStore()
    store.setup("localhost", "P2PHANDSHAKE", 512 * 1024 * 1024, 128 * 1024 * 1024, "tcp", "",
                "localhost:50051")             # a Ferry master: ./ferry master --port 50051
    store.put("hello_key", b"Hello, Ferry!")
    assert store.get("hello_key") == b"Hello, Ferry!"
    store.close()

Method names, argument order, defaults, return values and error codes are Mooncake Store's
(0 or a byte count on success, a negative Mooncake error code on failure; ``get`` answers
empty bytes for a missing key). See docs/integration.md for what each setup argument means
to Ferry, how string keys are stored (module ferry.keys), and where bytes are copied.

Thread-safety: one store may be used from many threads; each call takes a connection of a
small pool (one sidecar connection and one staging buffer each, ``max_connections``, 8 by
default) and gives it back when done.
"""

import ctypes
import enum
import itertools
import logging
import mmap
import os
import queue
import shutil
import socket
import struct
import tempfile
import threading
import time

from ferry_client import FerryClient, FerryError, MemfdBuffer

from . import keys as _keys
from .launcher import FerryNotInstalled, SidecarProcess
from .sizes import parse_size

__all__ = ["MooncakeDistributedStore", "ReplicateConfig", "SoftPinAction", "MooncakeHostMemAllocator", "BufferHandle",
           "FerryNotInstalled", "OK", "INTERNAL_ERROR", "BUFFER_OVERFLOW", "NO_AVAILABLE_HANDLE",
           "INVALID_PARAMS", "OBJECT_NOT_FOUND", "OBJECT_ALREADY_EXISTS", "OBJECT_HAS_LEASE",
           "TRANSFER_FAIL", "RPC_FAIL", "UNAVAILABLE_IN_CURRENT_STATUS"]

# Mooncake Store's error codes (mooncake-store/include/types.h), the ones this module answers.
OK = 0
INTERNAL_ERROR = -1
BUFFER_OVERFLOW = -10
NO_AVAILABLE_HANDLE = -200
INVALID_PARAMS = -600
OBJECT_NOT_FOUND = -704
OBJECT_ALREADY_EXISTS = -705
OBJECT_HAS_LEASE = -706
TRANSFER_FAIL = -800
RPC_FAIL = -900
UNAVAILABLE_IN_CURRENT_STATUS = -1010

# Ferry sidecar status (docs/protocol.md) -> Mooncake error code.
_STATUS_CODES = {6: OBJECT_NOT_FOUND, 7: INVALID_PARAMS, 8: INVALID_PARAMS, 9: BUFFER_OVERFLOW,
                 10: INVALID_PARAMS, 11: NO_AVAILABLE_HANDLE, 14: TRANSFER_FAIL,
                 15: UNAVAILABLE_IN_CURRENT_STATUS}
_NOT_FOUND = 6
_LOG = logging.getLogger("ferry.mooncake")
_OUT_OF_RANGE = 8
_MISMATCH = object()  # a block of another string key under the same 64-bit key


class _Failed(Exception):
    """A call that ends with a Mooncake error code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class SoftPinAction(enum.IntEnum):
    """Mooncake's soft-pin request of a put (ReplicateConfig.soft_pin_action)."""
    PRESERVE = 0
    ENABLE = 1
    DISABLE = 2


class ReplicateConfig:
    """Mooncake's replication settings of a put.

    Accepted and checked (``replica_num`` at least 1, ``soft_pin_action`` a SoftPinAction);
    Ferry's sidecar protocol has no per-put replica count or pin yet, so the store's own
    replication and eviction apply.
    """

    def __init__(self):
        self.replica_num = 1
        self.with_soft_pin = False
        self.soft_pin_action = SoftPinAction.PRESERVE
        self.soft_pin_ttl_ms = None
        self.with_hard_pin = False
        self.preferred_segment = ""
        self.preferred_segments = []
        self.prefer_alloc_in_same_node = False

    def __repr__(self):
        return "ReplicateConfig(replica_num=%d, with_soft_pin=%s, with_hard_pin=%s, preferred_segment=%r)" % (
            self.replica_num, self.with_soft_pin, self.with_hard_pin, self.preferred_segment)


def _check_config(config):
    if config is None:
        return
    replicas = getattr(config, "replica_num", 1)
    if not isinstance(replicas, int) or replicas < 1:
        raise _Failed(INVALID_PARAMS)
    if getattr(config, "soft_pin_action", SoftPinAction.PRESERVE) not in tuple(SoftPinAction):
        raise _Failed(INVALID_PARAMS)


def _address(view):
    """(address, anchor) of a writable bytes-like object; keep the anchor alive while using the address."""
    anchor = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(anchor), anchor


class _Allocation:
    _serials = itertools.count(1)

    def __init__(self, size):
        self.buffer = MemfdBuffer(size, "ferry-host-mem")
        self.address, self._anchor = _address(self.buffer.view)
        self.size = size
        self.serial = next(self._serials)  # addresses are reused after free; serials are not
        self.freed = False

    def close(self):
        self.freed = True
        self._anchor = None
        self.buffer.close()


_allocations = {}  # address -> _Allocation, of every MooncakeHostMemAllocator of this process
_allocations_lock = threading.Lock()


def _allocation_of(ptr, size):
    with _allocations_lock:
        for a in _allocations.values():
            if a.address <= ptr and ptr + size <= a.address + a.size:
                return a
    return None


class MooncakeHostMemAllocator:
    """Host memory that the sidecar maps: each allocation is a sealed memfd of this process.

    ``alloc(size)`` answers its address (an int, as Mooncake's), ``free(ptr)`` releases it
    (0, or INVALID_PARAMS for an address alloc did not give). put_from / batch_put_from of
    this memory reach the store with no copy in Python. Thread-safe.
    """

    def alloc(self, size):
        if not isinstance(size, int) or size <= 0:
            raise ValueError("size must be a positive int, got %r" % (size,))
        a = _Allocation(size)
        with _allocations_lock:
            _allocations[a.address] = a
        return a.address

    def free(self, ptr):
        with _allocations_lock:
            a = _allocations.pop(ptr, None)
        if a is None:
            return INVALID_PARAMS
        a.close()
        return OK


class BufferHandle(mmap.mmap):
    """A value read by get_buffer: private memory with ``ptr()``, ``size()``, ``len()`` and the
    buffer protocol (``memoryview(handle)``, ``bytes(handle)``)."""

    def __new__(cls, data):
        handle = super().__new__(cls, -1, len(data))
        handle[:] = data
        return handle

    def ptr(self):
        view = (ctypes.c_char * 1).from_buffer(self)
        try:
            return ctypes.addressof(view)
        finally:
            del view

    def size(self):
        return len(self)


class _Connection:
    """One sidecar connection and its staging buffer (none over TCP: bytes travel in the frames)."""

    def __init__(self, path, host, port, token, timeout, staging_size):
        self.client = FerryClient(path=path, host=host, port=port, token=token, timeout=timeout)
        self.staging = None
        try:
            if path is not None:
                self.staging = MemfdBuffer(staging_size, "ferry-staging")
                self.staging_id = self.client.register_buffer(self.staging)
        except BaseException:
            self.close()
            raise
        self.memfd_ids = {}  # _Allocation serial -> (allocation, buffer id on this connection)

    def close(self):
        try:
            self.client.close()
        finally:
            if self.staging is not None:
                self.staging.close()

    def buffer_id(self, allocation):
        """This connection's id of an allocation's memfd (registered on first use); lets go of freed ones."""
        for serial, (a, freed_id) in list(self.memfd_ids.items()):
            if a.freed:
                del self.memfd_ids[serial]
                self.client.unregister_buffer(freed_id)
        entry = self.memfd_ids.get(allocation.serial)
        if entry is None:
            entry = (allocation, self.client.register_buffer(allocation.buffer))
            self.memfd_ids[allocation.serial] = entry
        return entry[1]

    # --- blocks ------------------------------------------------------------------------

    def put_block(self, k64, header, parts):
        """Stores header + parts as one block; 0 stored, 1 a block of that key was there."""
        total = len(header) + sum(len(p) for p in parts)
        if self.staging is None:
            if total + 64 > self.client.max_frame_bytes:  # over TCP a block travels in one frame
                raise _Failed(INVALID_PARAMS)
            return self.client.put_inline([k64], [b"".join([header] + [bytes(p) for p in parts])])[0]
        if total <= self.staging.size:
            return self._put_through(self.staging, self.staging_id, k64, header, parts, total)
        with MemfdBuffer(total, "ferry-large-put") as big:
            big_id = self.client.register_buffer(big)
            try:
                return self._put_through(big, big_id, k64, header, parts, total)
            finally:
                self.client.unregister_buffer(big_id)

    def _put_through(self, buf, buf_id, k64, header, parts, total):
        at = len(header)
        buf.view[0:at] = header
        for p in parts:
            buf.view[at:at + len(p)] = p
            at += len(p)
        return self.client.put([k64], buf_id, [0], [total])[0]

    def put_block_from(self, k64, header, allocation, offset, size):
        """Stores header + `size` bytes at `offset` of a host-memory allocation, with no copy of them."""
        total = len(header) + size
        if self.client.put_start([k64], [total])[0] == 1:
            return 1
        try:
            self.staging.view[0:len(header)] = header
            self.client.write_ranges([(k64, 0, self.staging_id, 0, len(header)),
                                      (k64, len(header), self.buffer_id(allocation), offset, size)])
            self.client.put_commit([k64])
        except BaseException:
            try:
                self.client.put_abort([k64])
            except (FerryError, OSError):
                pass
            raise
        return 0

    def read_block(self, k64, consume):
        """Reads a whole block (CRC-checked) and answers consume(view of its bytes), or None when missing.

        The view is valid only inside consume.
        """
        if self.staging is None:
            block = self.client.get_inline([k64])[0]
            return None if block is None else consume(memoryview(block))
        try:
            length = self.client.get([k64], self.staging_id, [0], [self.staging.size])[0]
        except FerryError as e:
            if e.status != _OUT_OF_RANGE:
                raise
            length = -2  # longer than the staging buffer
        if length == -1:
            return None
        if length >= 0:
            return consume(self.staging.view[0:length])
        for _ in range(3):  # the block may be replaced by one of another size between the two calls
            try:
                self.client.read_range(k64, 0, self.staging_id, 0, _keys.FIXED)
            except FerryError as e:
                if e.status == _NOT_FOUND:
                    return None
                raise
            _, key_len, value_len = struct.unpack_from("<4sIQ", self.staging.view)
            with MemfdBuffer(_keys.FIXED + key_len + value_len, "ferry-large-get") as big:
                big_id = self.client.register_buffer(big)
                try:
                    length = self.client.get([k64], big_id, [0], [big.size])[0]
                except FerryError as e:
                    if e.status != _OUT_OF_RANGE:
                        raise
                    continue
                finally:
                    self.client.unregister_buffer(big_id)
                return None if length < 0 else consume(big.view[0:length])
        raise _Failed(TRANSFER_FAIL)

    def put_blocks(self, entries):
        """put_block of each (k64, header, parts), in one request when they fit the staging buffer; 0/1 each."""
        totals = [len(h) + sum(len(p) for p in parts) for _, h, parts in entries]
        if self.staging is None or len(entries) < 2 or sum(totals) > self.staging.size:
            return [self.put_block(k64, h, parts) for k64, h, parts in entries]
        offsets, at = [], 0
        for (_, header, parts), total in zip(entries, totals):
            offsets.append(at)
            self.staging.view[at:at + len(header)] = header
            at += len(header)
            for p in parts:
                self.staging.view[at:at + len(p)] = p
                at += len(p)
        return self.client.put([k64 for k64, _, _ in entries], self.staging_id, offsets, totals)

    def read_blocks(self, k64s, consume):
        """[consume(i, view of block i) or None when missing], in one request when the blocks fit an
        equal share of the staging buffer each. Each view is valid only inside its consume."""
        if self.staging is None or len(k64s) < 2:
            return self._read_one_by_one(k64s, consume)
        share = self.staging.size // len(k64s)
        try:
            lengths = self.client.get(k64s, self.staging_id, [i * share for i in range(len(k64s))],
                                      [share] * len(k64s))
        except FerryError as e:
            if e.status != _OUT_OF_RANGE:  # a block larger than its share: one by one
                raise
            return self._read_one_by_one(k64s, consume)
        return [None if n < 0 else consume(i, self.staging.view[i * share:i * share + n])
                for i, n in enumerate(lengths)]

    def _read_one_by_one(self, k64s, consume):
        return [self.read_block(k64, lambda view, i=i: consume(i, view)) for i, k64 in enumerate(k64s)]

    def read_headers(self, k64s, key_bytes_list):
        """read_header of each key: one EXISTS, then one READ_RANGE of the present keys' headers
        when they fit the staging buffer (one by one otherwise)."""
        def one_by_one():
            return [self.read_header(k64, kb) for k64, kb in zip(k64s, key_bytes_list)]
        if self.staging is None or len(k64s) < 2:
            return one_by_one()
        present = [i for i, there in enumerate(self.client.exists(k64s)) if there]
        lengths = [_keys.header_length(kb) for kb in key_bytes_list]
        if sum(lengths[i] for i in present) > self.staging.size:
            return one_by_one()
        ranges, offsets, at = [], {}, 0
        for i in present:
            ranges.append((k64s[i], 0, self.staging_id, at, lengths[i]))
            offsets[i] = at
            at += lengths[i]
        try:
            if ranges:
                self.client.read_ranges(ranges)
        except FerryError as e:
            if e.status not in (_NOT_FOUND, _OUT_OF_RANGE):  # removed meanwhile, or a short block
                raise
            return one_by_one()
        out = [None] * len(k64s)
        for i in present:
            view = self.staging.view[offsets[i]:offsets[i] + lengths[i]]
            out[i] = _or_mismatch(_keys.value_length(view, key_bytes_list[i]))
        return out

    def read_header(self, k64, key_bytes):
        """The value length of the block of this string key, None when missing, _MISMATCH for another key's."""
        if self.staging is None:
            return self.read_block(k64, lambda v: _or_mismatch(_keys.value_length(v, key_bytes, len(v))))
        n = _keys.header_length(key_bytes)
        if n > self.staging.size:
            raise _Failed(INVALID_PARAMS)
        try:
            self.client.read_range(k64, 0, self.staging_id, 0, n)
        except FerryError as e:
            if e.status == _NOT_FOUND:
                return None
            if e.status == _OUT_OF_RANGE:  # shorter than this key's header: not this key's block
                return _MISMATCH
            raise
        return _or_mismatch(_keys.value_length(self.staging.view[0:n], key_bytes))


_UPSERT_LEASE_WAIT_S = 1.0  # how long upsert waits for readers of the old value (a lease cache period)


def _remove_block(c, k64, wait_s):
    """REMOVE of one block, asked again while a reader's lease keeps it, for up to wait_s; the last answer."""
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        answer = c.client.remove([k64])[0]
        if answer != 2 or time.monotonic() + pause > deadline:
            return answer
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _Staged:
    """A put of bytes copied through the staging buffer: callable as a write of _store, and
    batchable (Connection.put_blocks) by its fields."""

    def __init__(self, c, k64, header, parts):
        self.c, self.k64, self.header, self.parts = c, k64, header, parts

    def __call__(self):
        return self.c.put_block(self.k64, self.header, self.parts)


def _bytes_view(value):
    """A flat byte view of a bytes-like value; INVALID_PARAMS for anything else."""
    try:
        return memoryview(value).cast("B")
    except TypeError:
        raise _Failed(INVALID_PARAMS) from None


def _or_mismatch(value_length):
    return _MISMATCH if value_length is None else value_length


class MooncakeDistributedStore:
    """Mooncake Store's client, served by a Ferry sidecar. Thread-safe; see the module's doc.

    Every method answers Mooncake's return values and error codes; none raises for a store
    error. TypeError is raised for a key that is not a str (as Mooncake's binding does).
    ``key_mismatches`` counts hits on a block of another string key with the same 64-bit
    block key (served as misses).
    """

    def __init__(self, block_key=_keys.block_key):
        self._block_key = block_key  # the string -> 64-bit derivation (ferry.keys); injectable for tests
        self._lock = threading.Lock()
        self._sidecar = None
        self._workdir = None
        self._address = None
        self._hostname = ""
        self._pool = queue.LifoQueue()
        self._open = 0
        self._max = 8
        self._timeout = 30.0
        self._staging_size = 16 << 20
        self._regions = {}  # address -> size, of register_buffer
        self.key_mismatches = 0

    # --- setup ---------------------------------------------------------------------------

    def setup(self, local_hostname, metadata_server=None, global_segment_size=16 << 20,
              local_buffer_size=16 << 20, protocol="tcp", rdma_devices="", master_server_addr="127.0.0.1:50051",
              engine=None, **kwargs):
        """Starts a sidecar that contributes ``global_segment_size`` bytes to the master at
        ``master_server_addr`` and connects to it; 0, or a negative code.

        ``setup(config)`` with a dict takes the same names as keys (sizes may be strings such
        as "16MB"). ``metadata_server``, ``protocol``, ``rdma_devices`` and ``engine`` are
        accepted and not used (docs/integration.md). Keyword extras: ``timeout`` (s, per
        call), ``max_connections``, ``ready_timeout`` (s), ``shm_dir``, ``sidecar_args``.
        Raises FerryNotInstalled when no Ferry distribution or JDK 25 is found.
        """
        if isinstance(local_hostname, dict):
            config = dict(local_hostname)
            config.update(kwargs)
            local_hostname = config.pop("local_hostname", "localhost")
            global_segment_size = config.pop("global_segment_size", global_segment_size)
            local_buffer_size = config.pop("local_buffer_size", local_buffer_size)
            master_server_addr = config.pop("master_server_address", config.pop("master_server_addr",
                                                                                master_server_addr))
            for ignored in ("metadata_server", "protocol", "rdma_devices", "device_name", "engine"):
                config.pop(ignored, None)
            ours = ("timeout", "max_connections", "ready_timeout", "shm_dir", "sidecar_args")
            for other in sorted(set(config) - set(ours)):  # Mooncake settings Ferry has no use for
                _LOG.warning("setup: setting %r is not used by Ferry", other)
                config.pop(other)
            kwargs = config
        with self._lock:
            if self._address is not None:
                return UNAVAILABLE_IN_CURRENT_STATUS
            try:
                segment = parse_size(global_segment_size)
                self._staging_size = max(parse_size(local_buffer_size), 1 << 20)
                self._configure(kwargs, ("timeout", "max_connections", "ready_timeout", "shm_dir", "sidecar_args"))
                ready_timeout = float(kwargs.get("ready_timeout", 120.0))
                extra_args = [str(a) for a in kwargs.get("sidecar_args", ())]
            except (ValueError, TypeError):
                return INVALID_PARAMS
            if segment <= 0 or not isinstance(master_server_addr, str) or ":" not in master_server_addr:
                return INVALID_PARAMS
            host = str(local_hostname or "127.0.0.1")
            data = host if _has_port(host) else host + ":0"
            self._workdir = tempfile.mkdtemp(prefix="ferry-mooncake-")
            path = os.path.join(self._workdir, "sidecar.sock")
            args = ["--socket", path, "--master", master_server_addr, "--capacity", str(segment),
                    "--data", data, "--node-id", "mooncake-%s-%d-%s" % (socket.gethostname(), os.getpid(),
                                                                         os.path.basename(self._workdir))]
            if kwargs.get("shm_dir"):
                args += ["--shm-dir", str(kwargs["shm_dir"])]
            try:
                self._sidecar = SidecarProcess(args + extra_args, ready_timeout)
            except FerryNotInstalled:
                self._remove_workdir()
                raise
            except (RuntimeError, OSError) as e:
                _LOG.error("setup: %s", e)
                self._remove_workdir()
                return INTERNAL_ERROR
            self._address = (path, None, None, None)
            self._hostname = host
        return self._first_connection()

    def setup_dummy(self, mem_pool_size, local_buffer_size, server_address, **kwargs):
        """Joins a sidecar that already runs; 0, or a negative code.

        ``server_address`` is the sidecar's Unix socket path (an absolute path, or any text
        with a '/'; blocks move through shared memory) or ``host:port`` of its TCP listener
        (blocks travel in the frames; ``token=`` or $FERRY_SIDECAR_TOKEN gives its token).
        ``mem_pool_size`` is accepted and not used (the sidecar's capacity is its own).
        """
        with self._lock:
            if self._address is not None:
                return UNAVAILABLE_IN_CURRENT_STATUS
            try:
                parse_size(mem_pool_size)
                self._staging_size = max(parse_size(local_buffer_size), 1 << 20)
                self._configure(kwargs, ("timeout", "max_connections", "token"))
            except (ValueError, TypeError):
                return INVALID_PARAMS
            if not isinstance(server_address, str) or not server_address:
                return INVALID_PARAMS
            if "/" in server_address or not _has_port(server_address):
                self._address = (server_address, None, None, None)
            else:
                host, port = server_address.rsplit(":", 1)
                self._address = (None, host.strip("[]"), int(port),
                                 kwargs.get("token", os.environ.get("FERRY_SIDECAR_TOKEN")))
            self._hostname = socket.gethostname()
        return self._first_connection()

    def _configure(self, kwargs, known):
        unknown = set(kwargs) - set(known)
        if unknown:
            raise ValueError("unknown settings: %s" % sorted(unknown))
        self._timeout = float(kwargs.get("timeout", self._timeout))
        self._max = int(kwargs.get("max_connections", self._max))
        if self._max < 1 or self._timeout <= 0:
            raise ValueError("max_connections and timeout must be positive")

    def _first_connection(self):
        try:
            self._pool.put(self._connect())
            with self._lock:
                self._open = 1
            return OK
        except (FerryError, OSError) as e:
            _LOG.error("cannot connect to the sidecar at %s: %s", self._address[0] or self._address[1:3], e)
            self.close()
            return RPC_FAIL

    def _connect(self):
        path, host, port, token = self._address
        return _Connection(path, host, port, token, self._timeout, self._staging_size)

    def close(self):
        """Closes every connection and stops the sidecar that setup() started; 0. Idempotent."""
        with self._lock:
            self._address = None
            while True:
                try:
                    self._pool.get_nowait().close()
                except queue.Empty:
                    break
            self._open = 0
            sidecar, self._sidecar = self._sidecar, None
        try:
            if sidecar is not None:
                sidecar.close()
        finally:
            self._remove_workdir()
        return OK

    def _remove_workdir(self):
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def health_check(self):
        """0 when the sidecar answers (and, for setup(), its process runs); a negative code otherwise."""
        if self._sidecar is not None and not self._sidecar.alive():
            return RPC_FAIL
        def ping(c):
            c.client.exists([])
            return OK
        return self._run(ping)

    def get_hostname(self):
        """The local_hostname given to setup() (this host's name after setup_dummy); "" before."""
        return self._hostname

    # --- the pool ------------------------------------------------------------------------

    def _run(self, op):
        """Runs op(connection) on a pooled connection; answers its result, or the error code it ended with."""
        if self._address is None:
            return UNAVAILABLE_IN_CURRENT_STATUS
        conn = None
        try:
            conn = self._take()
            result = op(conn)
        except _Failed as e:
            result = e.code
        except FerryError as e:
            result = _STATUS_CODES.get(e.status, INTERNAL_ERROR)
            if e.status in (1, 10):  # an answer out of step, a frame too large: the connection is done
                self._drop(conn)
                conn = None
        except (OSError, EOFError, struct.error):  # the sidecar went away or the stream broke
            self._drop(conn)
            conn = None
            result = RPC_FAIL
        except BaseException:
            self._drop(conn)
            conn = None
            raise
        if conn is not None:
            with self._lock:
                closed = self._address is None
            if closed:  # close() ran meanwhile: this connection must not outlive it
                conn.close()
            else:
                self._pool.put(conn)
        return result

    def _take(self):
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._address is None:
                raise _Failed(UNAVAILABLE_IN_CURRENT_STATUS)
            grow = self._open < self._max
            if grow:
                self._open += 1
        if grow:
            try:
                return self._connect()
            except BaseException:
                with self._lock:
                    self._open -= 1
                raise
        try:
            return self._pool.get(timeout=self._timeout)
        except queue.Empty:
            raise _Failed(RPC_FAIL) from None

    def _drop(self, conn):
        if conn is None:
            return
        with self._lock:
            self._open -= 1
        try:
            conn.close()
        except OSError:
            pass

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError("a key is a str, got %s" % type(key).__name__)
        if not key:
            raise _Failed(INVALID_PARAMS)
        key_bytes = key.encode("utf-8")
        return self._block_key(key_bytes) & ((1 << 64) - 1), key_bytes

    def _mismatch(self):
        with self._lock:
            self.key_mismatches += 1

    # --- put ---------------------------------------------------------------------------

    def put(self, key, value, config=None):
        """Stores value (bytes-like, not empty) under key; 0, or a negative code.

        A key already stored keeps its value and answers 0 (as Mooncake's put); upsert replaces it.
        """
        return self._put(key, [value], config)

    def put_parts(self, key, *parts, config=None):
        """Stores the concatenation of parts (bytes-like) under key, as put."""
        return self._put(key, list(parts), config)

    def put_batch(self, keys, values, config=None):
        """Stores values[i] under keys[i]; 0 when all are stored, else the first error code.

        One request to the sidecar when the batch fits the staging buffer.
        """
        if len(keys) != len(values):
            return INVALID_PARAMS

        def op(c):
            _check_config(config)
            entries, names = [], []
            for key, value in zip(keys, values):
                k64, kb = self._key(key)
                view = _bytes_view(value)
                if len(view) == 0:
                    raise _Failed(INVALID_PARAMS)
                entries.append((k64, _keys.header(kb, len(view)), [view]))
                names.append((k64, kb))
            for (k64, kb), stored, entry in zip(names, c.put_blocks(entries), entries):
                if stored != 0:  # already there: this string's value, or another string's block
                    self._store(c, k64, kb, False, lambda: c.put_block(*entry))
            return OK
        return self._run(op)

    def upsert(self, key, value, config=None):
        """Stores value under key, replacing a value stored before; 0, or a negative code.

        Not atomic: a reader may miss the key while it is replaced. OBJECT_HAS_LEASE when a
        reader holds the old value.
        """
        return self._put(key, [value], config, replace=True)

    def upsert_batch(self, keys, values, config=None):
        """upsert of each pair; 0 when all are stored, else the first error code."""
        if len(keys) != len(values):
            return INVALID_PARAMS
        for k, v in zip(keys, values):
            code = self._put(k, [v], config, replace=True)
            if code != OK:
                return code
        return OK

    def _put(self, key, parts, config, replace=False):
        def op(c):
            k64, kb = self._key(key)
            _check_config(config)
            views = [_bytes_view(p) for p in parts]
            size = sum(len(v) for v in views)
            if size == 0:
                raise _Failed(INVALID_PARAMS)
            header = _keys.header(kb, size)
            return self._store(c, k64, kb, replace, lambda: c.put_block(k64, header, views))
        return self._run(op)

    def _store(self, c, k64, kb, replace, write):
        """Runs write() (0 stored, 1 the block key was taken) with Mooncake's put / upsert semantics.

        A taken block key holding this string is success for a put and is replaced by an
        upsert; holding another string it is OBJECT_ALREADY_EXISTS. A block that is taken but
        not readable yet is another writer's put in progress: as for Mooncake's put of an
        existing object, the call succeeds (a reader will see one whole value of this string).
        """
        for attempt in range(3):
            if replace:
                existing = c.read_header(k64, kb)
                if existing is _MISMATCH:
                    self._mismatch()
                    raise _Failed(OBJECT_ALREADY_EXISTS)
                if existing is not None and _remove_block(c, k64, _UPSERT_LEASE_WAIT_S) == 2:
                    raise _Failed(OBJECT_HAS_LEASE)
            if write() == 0:
                return OK
            existing = c.read_header(k64, kb)
            if existing is _MISMATCH:  # the 64-bit key holds another string's value: ours cannot go there
                self._mismatch()
                raise _Failed(OBJECT_ALREADY_EXISTS)
            if existing is not None and not replace:
                return OK
            time.sleep(0.001 * (attempt + 1))  # a put in progress, or another upsert came first: again
        return OK

    # --- get ---------------------------------------------------------------------------

    def get(self, key):
        """The value of key as bytes; empty bytes when it is missing or on an error."""
        result = self._run(lambda c: self._read(c, key, bytes))
        return result if isinstance(result, bytes) else b""

    def get_batch(self, keys):
        """get of each key: a list of bytes (empty for a missing key or on an error)."""
        results = self._run(lambda c: self._read_many(c, keys, lambda i, value: bytes(value)))
        if not isinstance(results, list):
            return [b""] * len(keys)
        return [r if isinstance(r, bytes) else b"" for r in results]

    def get_buffer(self, key):
        """The value of key in a BufferHandle, or None when it is missing or on an error."""
        result = self._run(lambda c: self._read(c, key, BufferHandle))
        return result if isinstance(result, BufferHandle) else None

    def batch_get_buffer(self, keys):
        """get_buffer of each key: a list of BufferHandle or None."""
        results = self._run(lambda c: self._read_many(c, keys, lambda i, value: BufferHandle(value)))
        if not isinstance(results, list):
            return [None] * len(keys)
        return [r if isinstance(r, BufferHandle) else None for r in results]

    def _read_many(self, c, keys, make):
        """make(i, view of value i) of each key (one request when they fit), or OBJECT_NOT_FOUND."""
        names = [self._key(k) for k in keys]

        def consume(i, block):
            kb = names[i][1]
            if _keys.value_length(block, kb, len(block)) is None:
                self._mismatch()
                return OBJECT_NOT_FOUND
            return make(i, block[_keys.header_length(kb):])
        results = c.read_blocks([k64 for k64, _ in names], consume)
        return [OBJECT_NOT_FOUND if r is None else r for r in results]

    def _read(self, c, key, make):
        """make(view of the value) of key, or raises _Failed(OBJECT_NOT_FOUND)."""
        k64, kb = self._key(key)
        n = _keys.header_length(kb)

        def consume(block):
            if _keys.value_length(block, kb, len(block)) is None:
                return _MISMATCH
            return make(block[n:])
        return self._found(c.read_block(k64, consume))

    def get_size(self, key):
        """The value's length in bytes, or a negative code (OBJECT_NOT_FOUND when missing)."""
        return self._run(lambda c: self._value_length(c, key))

    def _value_length(self, c, key):
        k64, kb = self._key(key)
        return self._found(c.read_header(k64, kb))

    def _found(self, result):
        """result, unless it is None (missing) or _MISMATCH (another string's block, counted): then OBJECT_NOT_FOUND."""
        if result is _MISMATCH:
            self._mismatch()
        if result is None or result is _MISMATCH:
            raise _Failed(OBJECT_NOT_FOUND)
        return result

    def is_exist(self, key):
        """1 when key is stored, 0 when not, a negative code on an error."""
        result = self.get_size(key)
        return 1 if result >= 0 else 0 if result == OBJECT_NOT_FOUND else result

    def batch_is_exist(self, keys):
        """is_exist of each key (1, 0, or a negative code for all on an error), in two requests at most."""
        def op(c):
            names = [self._key(k) for k in keys]
            out = []
            for length in c.read_headers([k64 for k64, _ in names], [kb for _, kb in names]):
                if length is _MISMATCH:
                    self._mismatch()
                out.append(0 if length is None or length is _MISMATCH else 1)
            return out
        result = self._run(op)
        return result if isinstance(result, list) else [result] * len(keys)

    # --- remove ------------------------------------------------------------------------

    def remove(self, key, force=False):
        """Removes key; 0, OBJECT_NOT_FOUND, or OBJECT_HAS_LEASE while a reader holds it.

        Ferry cannot break a reader's lease: ``force=True`` waits for the leases to end (up
        to the call's ``timeout``) instead.
        """
        def op(c):
            k64, _ = self._key(key)
            self._value_length(c, key)  # never removes a block of another string key
            answer = _remove_block(c, k64, self._timeout if force else 0)
            return OK if answer == 0 else OBJECT_HAS_LEASE if answer == 2 else OBJECT_NOT_FOUND
        return self._run(op)

    def batch_remove(self, keys, force=False):
        """remove of each key: a list of codes."""
        return [self.remove(k, force) for k in keys]

    # --- registered memory -------------------------------------------------------------

    def register_buffer(self, buffer_ptr, size):
        """Registers memory for put_from / get_into; 0, or INVALID_PARAMS (a bad or overlapping
        range, or memory this process cannot read and write, such as GPU memory).

        Memory of MooncakeHostMemAllocator reaches the sidecar directly; other memory is
        copied through the connection's staging buffer (one copy, ctypes.memmove).
        """
        if not isinstance(buffer_ptr, int) or not isinstance(size, int) or buffer_ptr <= 0 or size <= 0:
            return INVALID_PARAMS
        if not _host_memory(buffer_ptr, size):
            return INVALID_PARAMS
        with self._lock:
            for ptr, n in self._regions.items():
                if buffer_ptr < ptr + n and ptr < buffer_ptr + size:
                    return INVALID_PARAMS
            self._regions[buffer_ptr] = size
        return OK

    def unregister_buffer(self, buffer_ptr):
        with self._lock:
            return OK if self._regions.pop(buffer_ptr, None) is not None else INVALID_PARAMS

    def _registered(self, ptr, size):
        if not isinstance(ptr, int) or not isinstance(size, int) or size < 0:
            raise _Failed(INVALID_PARAMS)
        with self._lock:
            if any(p <= ptr and ptr + size <= p + n for p, n in self._regions.items()):
                return
        if _allocation_of(ptr, size) is None:
            raise _Failed(INVALID_PARAMS)

    def put_from(self, key, buffer_ptr, size, config=None):
        """Stores `size` bytes at buffer_ptr (registered memory) under key; 0, or a negative code."""
        def op(c):
            _check_config(config)
            k64, kb, write = self._source(c, key, buffer_ptr, size)
            return self._store(c, k64, kb, False, write)
        return self._run(op)

    def _source(self, c, key, buffer_ptr, size):
        """(k64, key bytes, write) of a put from registered memory: with no copy from host memory
        of the allocator, else through the staging buffer; raises _Failed(INVALID_PARAMS)."""
        k64, kb = self._key(key)
        self._registered(buffer_ptr, size)
        if size == 0:
            raise _Failed(INVALID_PARAMS)
        header = _keys.header(kb, size)
        allocation = _allocation_of(buffer_ptr, size)
        if allocation is not None and c.staging is not None:
            return k64, kb, lambda: c.put_block_from(k64, header, allocation, buffer_ptr - allocation.address, size)
        source = memoryview((ctypes.c_char * size).from_address(buffer_ptr)).cast("B")
        return k64, kb, _Staged(c, k64, header, [source])

    def get_into(self, key, buffer_ptr, size):
        """Copies the value of key to buffer_ptr (registered memory, `size` bytes free); the
        value's length, or a negative code (BUFFER_OVERFLOW when it does not fit)."""
        def op(c):
            self._registered(buffer_ptr, size)
            return self._read(c, key, lambda value: _copy_out(value, buffer_ptr, size))
        return self._run(op)

    def batch_put_from(self, keys, buffer_ptrs, sizes, config=None):
        """put_from of each triple: a list of codes. Copies through the staging buffer go in
        one request when they fit it."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        out = [INVALID_PARAMS] * len(keys)

        def op(c):
            _check_config(config)
            staged = []
            for i, (key, ptr, size) in enumerate(zip(keys, buffer_ptrs, sizes)):
                try:
                    k64, kb, write = self._source(c, key, ptr, size)
                    if isinstance(write, _Staged):
                        staged.append((i, k64, kb, write))
                    else:
                        out[i] = self._store(c, k64, kb, False, write)
                except _Failed as e:
                    out[i] = e.code
            answers = c.put_blocks([(w.k64, w.header, w.parts) for _, _, _, w in staged])
            for (i, k64, kb, write), stored in zip(staged, answers):
                try:
                    out[i] = OK if stored == 0 else self._store(c, k64, kb, False, write)
                except _Failed as e:
                    out[i] = e.code
            return out
        result = self._run(op)
        return result if isinstance(result, list) else [result] * len(keys)

    def batch_get_into(self, keys, buffer_ptrs, sizes):
        """get_into of each triple: a list of lengths or codes."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        checked = []
        for p, n in zip(buffer_ptrs, sizes):
            try:
                self._registered(p, n)
                checked.append(True)
            except _Failed:
                checked.append(False)
        wanted = [i for i, ok in enumerate(checked) if ok]

        def op(c):
            return self._read_many(c, [keys[i] for i in wanted],
                                   lambda j, value: _copy_out(value, buffer_ptrs[wanted[j]], sizes[wanted[j]]))
        results = self._run(op) if wanted else []
        out = [INVALID_PARAMS] * len(keys)
        for j, i in enumerate(wanted):
            out[i] = results[j] if isinstance(results, list) else results
        return out


def _host_memory(ptr, size):
    """Whether [ptr, ptr + size) is mapped readable and writable in this process (/proc/self/maps).

    Device memory (CUDA's unified address ranges are reserved without access) and unmapped
    addresses fail, so that a copy never faults.
    """
    end, at = ptr + size, ptr
    with open("/proc/self/maps") as maps:
        ranges = []
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi > ptr and lo < end:
                ranges.append((lo, hi, fields[1]))
    for lo, hi, perms in sorted(ranges):
        if lo > at or not perms.startswith("rw"):
            return False
        at = max(at, hi)
        if at >= end:
            return True
    return at >= end


def _copy_out(value, buffer_ptr, size):
    """Copies a value (out of the staging buffer: the one copy) to memory at buffer_ptr; its length or BUFFER_OVERFLOW."""
    if len(value) > size:
        return BUFFER_OVERFLOW
    if len(value):
        memoryview((ctypes.c_char * len(value)).from_address(buffer_ptr)).cast("B")[:] = value
    return len(value)


def _has_port(address):
    head, sep, port = address.rpartition(":")
    return bool(sep) and bool(head) and port.isdigit()
