"""Mooncake Store's Python API (``mooncake.store``) served by a Ferry sidecar.

    from ferry.mooncake import MooncakeDistributedStore   # instead of: from mooncake.store import ...

    store = MooncakeDistributedStore()
    store.setup("localhost", "P2PHANDSHAKE", 512 * 1024 * 1024, 128 * 1024 * 1024, "tcp", "",
                "localhost:50051")             # a Ferry master: ./ferry master --port 50051
    store.put("hello_key", b"Hello, Ferry!")
    assert store.get("hello_key") == b"Hello, Ferry!"
    store.close()

Engines that import ``mooncake.store`` need no change: ``ferry.mooncake.install()`` (or the
environment variable ``FERRY_AS_MOONCAKE=1``, which reaches the processes they spawn) makes
``from mooncake.store import MooncakeDistributedStore`` give this module's class where no real
``mooncake`` package is installed (module ferry.alias).

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
import glob
import logging
import os
import queue
import random
import shutil
import socket
import struct
import tempfile
import threading
import time

import ferry_client
from ferry_client import FerryError

from . import keys as _keys
from .alias import install  # noqa: F401 (ferry.mooncake.install(): import mooncake.store gives this module)
from .codes import (BUFFER_OVERFLOW, INTERNAL_ERROR, INVALID_PARAMS, NO_AVAILABLE_HANDLE, OBJECT_ALREADY_EXISTS,
                    OBJECT_HAS_LEASE, OBJECT_NOT_FOUND, OK, RPC_FAIL, STATUS_CODES, TRANSFER_FAIL,
                    UNAVAILABLE_IN_CURRENT_MODE, UNAVAILABLE_IN_CURRENT_STATUS, Failed)
from .connection import (MISMATCH, UNREADABLE, UPSERT_LEASE_WAIT_S, Connection, CopyPaths, InPlace, Staged, bytes_view,
                         remove_block)
from .extended import ExtendedMethods, ReplicaStatus, TaskStatus, TaskType, bind_to_numa_node  # noqa: F401
from .tensors import TensorMethods
from .launcher import FerryNotInstalled, SidecarProcess
from .memory import BufferHandle, MooncakeHostMemAllocator, advise_huge_pages, allocation_of, copy_out, host_memory
from .sizes import parse_size

# A read's lease is given back to the master after its answer (the sidecar does not wait for
# that round trip), so a remove right after this process's own read can find the lease still
# held: a remove without force waits that long for it before answering OBJECT_HAS_LEASE.
RELEASE_GRACE_S = 0.1

__all__ = ["MooncakeDistributedStore", "ReplicateConfig", "SoftPinAction", "MooncakeHostMemAllocator", "BufferHandle",
           "FerryNotInstalled", "OK", "INTERNAL_ERROR", "BUFFER_OVERFLOW", "NO_AVAILABLE_HANDLE",
           "INVALID_PARAMS", "OBJECT_NOT_FOUND", "OBJECT_ALREADY_EXISTS", "OBJECT_HAS_LEASE",
           "TRANSFER_FAIL", "RPC_FAIL", "UNAVAILABLE_IN_CURRENT_STATUS", "UNAVAILABLE_IN_CURRENT_MODE",
           "ReplicaStatus", "TaskType", "TaskStatus", "bind_to_numa_node"]

_LOG = logging.getLogger("ferry.mooncake")


class SoftPinAction(enum.IntEnum):
    """Mooncake's soft-pin request of a put (ReplicateConfig.soft_pin_action)."""
    PRESERVE = 0
    ENABLE = 1
    DISABLE = 2


class ReplicateConfig:
    """Mooncake's replication settings of a put.

    ``replica_num`` (1 to 64): copies of each new value, each on a different store node (the
    first on ``preferred_segment`` when it names a segment with room, else on the sidecar's
    own node when it has room; fewer when fewer nodes have room). ``preferred_segment``: a
    segment as ``get_hostname()`` names it (``host:port``), a Ferry segment name or node id;
    ``preferred_segments``, when given, must hold ``replica_num`` names (its first is used
    when ``preferred_segment`` is empty). ``with_hard_pin``: the value is never evicted
    (remove and ``remove_all(force=True)`` still take it). ``with_soft_pin`` (or
    ``soft_pin_action=SoftPinAction.ENABLE``; ``DISABLE`` turns it off): the value is evicted
    only when no unpinned one can be, for ``soft_pin_ttl_ms`` (30 minutes when None). Soft pins
    and preferred segments need a sidecar of protocol version 3 (earlier ones ignore them).
    ``prefer_alloc_in_same_node`` and ``group_ids`` are accepted and not used
    (docs/integration.md).
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
        self.group_ids = None

    def __repr__(self):
        return "ReplicateConfig(replica_num=%d, with_soft_pin=%s, with_hard_pin=%s, preferred_segment=%r)" % (
            self.replica_num, self.with_soft_pin, self.with_hard_pin, self.preferred_segment)

    __str__ = __repr__


MAX_REPLICAS = 64  # the sidecar's bound (PUT_OPTIONS)
DEFAULT_SOFT_PIN_TTL_MS = 30 * 60 * 1000  # a soft pin's length when soft_pin_ttl_ms is None (Mooncake's default)


def _options(config):
    """(replicas, hard pin, soft pin ms, preferred segment) of a put's ReplicateConfig
    ((1, False, 0, None) for None); raises Failed(INVALID_PARAMS)."""
    if config is None:
        return 1, False, 0, None
    replicas = getattr(config, "replica_num", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= MAX_REPLICAS:
        raise Failed(INVALID_PARAMS)
    action = getattr(config, "soft_pin_action", SoftPinAction.PRESERVE)
    if action not in tuple(SoftPinAction):
        raise Failed(INVALID_PARAMS)
    ttl = getattr(config, "soft_pin_ttl_ms", None)
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0):
        raise Failed(INVALID_PARAMS)
    soft = action == SoftPinAction.ENABLE or (action == SoftPinAction.PRESERVE
                                               and bool(getattr(config, "with_soft_pin", False)))
    preferred = getattr(config, "preferred_segment", "") or ""
    segments = list(getattr(config, "preferred_segments", None) or [])
    if not isinstance(preferred, str) or any(not isinstance(x, str) for x in segments):
        raise Failed(INVALID_PARAMS)
    if segments and len(segments) != replicas:  # Mooncake: one preferred segment per replica
        raise Failed(INVALID_PARAMS)
    preferred = preferred or (segments[0] if segments else "")
    soft_ms = (DEFAULT_SOFT_PIN_TTL_MS if ttl is None else ttl) if soft else 0
    return replicas, bool(getattr(config, "with_hard_pin", False)), soft_ms, preferred or None


class MooncakeDistributedStore(ExtendedMethods, TensorMethods):
    """Mooncake Store's client, served by a Ferry sidecar. Thread-safe; see the module's doc.

    Every method answers Mooncake's return values and error codes; none raises for a store
    error. TypeError is raised for a key that is not a str (as Mooncake's binding does).
    ``key_mismatches`` counts hits on a block of another string key with the same block key
    (served as misses).
    """

    def __init__(self, block_key=None):
        # The string -> block key derivation: ferry.keys for the sidecar's protocol version
        # unless one is given (tests force collisions with one).
        self._block_key = block_key
        self._version = None  # the sidecar's protocol version, from the first connection
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
        self._failed = False  # a setup or setup_dummy failed: the next one must follow close()
        # local_buffer_size was not 0: values of bytes pass through this client's buffer (put,
        # get and their kin); with 0 only registered memory moves (put_from, get_into, ...), as
        # in Mooncake, whose client buffer of size 0 holds no value
        self._local_buffer = True
        self._data_address = ""  # the sidecar's host:port (protocol version 3)
        self._namespace = b""  # of the tenant (ferry.keys.namespace)
        self._max_version = ferry_client.VERSION  # highest sidecar protocol version to speak
        self._paths = CopyPaths()
        self.key_mismatches = 0

    # --- setup ---------------------------------------------------------------------------

    def setup(self, local_hostname, metadata_server=None, global_segment_size=16 << 20,
              local_buffer_size=16 << 20, protocol="tcp", rdma_devices="", master_server_addr="127.0.0.1:50051",
              engine=None, enable_ssd_offload=False, ssd_offload_path="", tenant_id="default", **kwargs):
        """Starts a sidecar that contributes ``global_segment_size`` bytes to the master at
        ``master_server_addr`` and connects to it; 0, or a negative code.

        ``setup(config)`` with a dict takes the same names as keys (sizes may be strings such
        as "16MB"). ``metadata_server``, ``protocol``, ``rdma_devices``, ``engine``,
        ``enable_ssd_offload`` and ``ssd_offload_path`` are accepted and not used
        (docs/integration.md). ``tenant_id``: a namespace of keys (keys of other tenants are
        never seen; "default" is the namespace of stores set up without one). Keyword
        extras: ``timeout`` (s, per call), ``max_connections``, ``ready_timeout`` (s),
        ``shm_dir``, ``sidecar_args``, ``cluster_id`` (default $FERRY_CLUSTER_ID). A master
        elected in etcd is ``master_server_addr="etcd://h1:2379,h2:2379/ID"``, or Mooncake's
        ``"etcd://h1:2379;h2:2379"`` with ``cluster_id="ID"``; the sidecar follows the leader
        (docs/integration.md). Raises FerryNotInstalled when no Ferry distribution or
        JDK 25 is found.

        A setup that did not answer 0 (or raised) leaves the object failed, as Mooncake's
        client does: every later setup() and setup_dummy() answers
        UNAVAILABLE_IN_CURRENT_STATUS until close().
        """
        return self._attempt(lambda: self._setup(
            local_hostname, metadata_server, global_segment_size, local_buffer_size, protocol, rdma_devices,
            master_server_addr, engine, enable_ssd_offload, ssd_offload_path, tenant_id, **kwargs))

    def _attempt(self, setup):
        """Runs one setup or setup_dummy; any answer but 0 (or an exception) leaves the object
        failed until close() (Mooncake: a failed setup must be closed before it is retried)."""
        code = INTERNAL_ERROR
        try:
            code = setup()
            return code
        finally:
            if code != OK:
                with self._lock:
                    self._failed = True

    def _setup(self, local_hostname, metadata_server, global_segment_size, local_buffer_size, protocol,
               rdma_devices, master_server_addr, engine, enable_ssd_offload, ssd_offload_path, tenant_id,
               **kwargs):
        if isinstance(local_hostname, dict):
            config = dict(local_hostname)
            config.update(kwargs)
            tenant_id = config.pop("tenant_id", tenant_id)
            local_hostname = config.pop("local_hostname", "localhost")
            global_segment_size = config.pop("global_segment_size", global_segment_size)
            local_buffer_size = config.pop("local_buffer_size", local_buffer_size)
            master_server_addr = config.pop("master_server_address", config.pop("master_server_addr",
                                                                                master_server_addr))
            for ignored in ("metadata_server", "protocol", "rdma_devices", "device_name", "engine",
                            "enable_ssd_offload", "ssd_offload_path"):
                config.pop(ignored, None)
            ours = ("timeout", "max_connections", "ready_timeout", "shm_dir", "sidecar_args", "cluster_id")
            for other in sorted(set(config) - set(ours)):  # Mooncake settings Ferry has no use for
                _LOG.warning("setup: setting %r is not used by Ferry", other)
                config.pop(other)
            kwargs = config
        with self._lock:
            if self._address is not None or self._failed:
                return UNAVAILABLE_IN_CURRENT_STATUS
            try:
                segment = parse_size(global_segment_size)
                self._local_buffer = parse_size(local_buffer_size) > 0
                self._staging_size = max(parse_size(local_buffer_size), 1 << 20)
                self._configure(kwargs, ("timeout", "max_connections", "ready_timeout", "shm_dir", "sidecar_args",
                                         "cluster_id"))
                cluster_id = kwargs.get("cluster_id", os.environ.get("FERRY_CLUSTER_ID"))
                self._max_version = ferry_client.VERSION
                ready_timeout = float(kwargs.get("ready_timeout", 120.0))
                extra_args = [str(a) for a in kwargs.get("sidecar_args", ())]
            except (ValueError, TypeError):
                return INVALID_PARAMS
            if segment <= 0 or not isinstance(master_server_addr, str) or ":" not in master_server_addr:
                return INVALID_PARAMS
            if not isinstance(tenant_id, str):
                return INVALID_PARAMS
            self._namespace = _keys.namespace(tenant_id)
            host = str(local_hostname or "127.0.0.1")
            _sweep_workdirs()
            self._workdir = tempfile.mkdtemp(prefix="%s%d-" % (_WORKDIR_PREFIX, os.getpid()))
            path = os.path.join(self._workdir, "sidecar.sock")
            args = ["--socket", path, "--master", master_server_addr, "--capacity", str(segment),
                    "--node-id", "mooncake-%s-%d-%s" % (socket.gethostname(), os.getpid(),
                                                        os.path.basename(self._workdir))]
            if kwargs.get("shm_dir"):
                args += ["--shm-dir", str(kwargs["shm_dir"])]
            if cluster_id:
                args += ["--cluster-id", str(cluster_id)]
            try:
                self._sidecar = _start_sidecar(host, args + extra_args, ready_timeout)
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
        ``protocol_version=N`` speaks at most that sidecar protocol version (1 to 3; the
        highest both speak by default). A failed setup_dummy leaves the object failed until
        close(), as a failed setup() does.
        """
        return self._attempt(lambda: self._setup_dummy(mem_pool_size, local_buffer_size, server_address, **kwargs))

    def _setup_dummy(self, mem_pool_size, local_buffer_size, server_address, **kwargs):
        with self._lock:
            if self._address is not None or self._failed:
                return UNAVAILABLE_IN_CURRENT_STATUS
            try:
                parse_size(mem_pool_size)
                self._local_buffer = parse_size(local_buffer_size) > 0
                self._staging_size = max(parse_size(local_buffer_size), 1 << 20)
                self._configure(kwargs, ("timeout", "max_connections", "token", "protocol_version"))
                self._max_version = int(kwargs.get("protocol_version", ferry_client.VERSION))
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
            self._namespace = b""
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
        conn = Connection(path, host, port, token, self._timeout, self._staging_size, self._paths,
                          self._max_version)
        version = conn.client.version
        with self._lock:
            if self._version is None:
                self._version = version
                self._data_address = conn.client.data_address  # version 3 sidecars tell theirs
            same = self._version == version
        if not same:  # the sidecar was replaced by one of another build: its keys are not ours
            conn.close()
            raise FerryError(2, "the sidecar now speaks protocol version %d, not %d: set up again" % (
                version, self._version))
        return conn

    def close(self):
        """Closes every connection and stops the sidecar that setup() started; 0. Idempotent."""
        with self._lock:
            self._address = None
            self._failed = False
            self._version = None
            self._data_address = ""
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

    def debug_info(self):
        """Which copy path served this store's values of registered memory (docs/integration.md):
        ``copy_paths`` counts values per path (``process_memory``: private memory copied once by
        the sidecar; ``shared_memory``: allocator memory copied once by the sidecar;
        ``staging``: through a staging buffer, one copy more), ``process_memory_refusal`` the
        sidecar's reason once it refused private memory (None before), ``huge_page_bytes`` the
        bytes of registered private memory put in huge pages (register_buffer)."""
        return {"copy_paths": self._paths.snapshot(), "process_memory_refusal": self._paths.process_memory_refusal,
                "huge_page_bytes": self._paths.huge_page_bytes}

    def get_hostname(self):
        """This store's segment as Mooncake names it, ``host:port``: the sidecar's data address
        (what ``ReplicateConfig.preferred_segment`` takes); the local_hostname given to setup()
        (this host's name after setup_dummy) from a sidecar of protocol version 2 or earlier;
        "" before setup."""
        return self._data_address or self._hostname

    # --- the pool ------------------------------------------------------------------------

    def _run(self, op):
        """Runs op(connection) on a pooled connection; answers its result, or the error code it ended with."""
        if self._address is None:
            return UNAVAILABLE_IN_CURRENT_STATUS
        conn = None
        try:
            conn = self._take()
            result = op(conn)
        except Failed as e:
            result = e.code
        except FerryError as e:
            result = STATUS_CODES.get(e.status, INTERNAL_ERROR)
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
                raise Failed(UNAVAILABLE_IN_CURRENT_STATUS)
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
            raise Failed(RPC_FAIL) from None

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
        key_bytes = self._namespace + key.encode("utf-8")
        if not key or _keys.header_length(key_bytes) > self._staging_size:
            raise Failed(INVALID_PARAMS)  # empty, or a key whose header the staging buffer cannot hold
        if self._block_key is not None:
            return self._block_key(key_bytes), key_bytes
        version = self._version
        if version is None:
            raise Failed(UNAVAILABLE_IN_CURRENT_STATUS)  # not set up: no sidecar, no version
        return _keys.block_key(key_bytes, version), key_bytes

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
            self._need_local_buffer()
            c.use_options(_options(config))
            entries, names = [], []
            for key, value in zip(keys, values):
                bkey, kb = self._key(key)
                view = bytes_view(value)
                if len(view) == 0:
                    raise Failed(INVALID_PARAMS)
                entries.append((bkey, _keys.header(kb, len(view)), [view]))
                names.append((bkey, kb))
            for (bkey, kb), stored, entry in zip(names, c.put_blocks(entries), entries):
                if stored != 0:  # already there: this string's value, or another string's block
                    self._store(c, bkey, kb, False, lambda: c.put_block(*entry))
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

    def _put(self, key, parts, config, replace=False, buffered=True):
        """Stores the concatenation of parts under key (put, or upsert when replace); parts of
        bytes values (buffered) need a local buffer, parts of registered memory do not."""
        def op(c):
            if buffered:
                self._need_local_buffer()
            bkey, kb = self._key(key)
            c.use_options(_options(config))
            views = [bytes_view(p) for p in parts]
            size = sum(len(v) for v in views)
            if size == 0:
                raise Failed(INVALID_PARAMS)
            header = _keys.header(kb, size)
            return self._store(c, bkey, kb, replace, lambda: c.put_block(bkey, header, views))
        return self._run(op)

    def _need_local_buffer(self):
        """Raises Failed(INVALID_PARAMS) when setup's local_buffer_size was 0 (Mooncake's client
        then has no buffer to copy a value of bytes through)."""
        if not self._local_buffer:
            raise Failed(INVALID_PARAMS)

    def _store(self, c, bkey, kb, replace, write):
        """Runs write() (0 stored, 1 the block key was taken) with Mooncake's put / upsert semantics.

        A taken block key holding this string is success for a put and is replaced by an
        upsert; holding another string it is OBJECT_ALREADY_EXISTS. A block that is taken but
        not readable yet is another writer's put in progress: as for Mooncake's put of an
        existing object, the call succeeds (a reader will see one whole value of this string).
        """
        for attempt in range(3):
            if replace:
                existing = c.read_header(bkey, kb)
                if existing is MISMATCH:
                    self._mismatch()
                    raise Failed(OBJECT_ALREADY_EXISTS)
                if existing is not None and remove_block(c, bkey, UPSERT_LEASE_WAIT_S) == 2:
                    raise Failed(OBJECT_HAS_LEASE)
            if write() == 0:
                return OK
            existing = c.read_header(bkey, kb)
            if existing is MISMATCH:  # the block key holds another string's value: ours cannot go there
                self._mismatch()
                raise Failed(OBJECT_ALREADY_EXISTS)
            if existing is not None and not replace:
                return OK
            time.sleep(0.001 * (attempt + 1))  # a put in progress, or another upsert came first: again
        return OK

    # --- get ---------------------------------------------------------------------------

    def get(self, key):
        """The value of key as bytes; empty bytes when it is missing or on an error (and when
        setup's local_buffer_size was 0)."""
        if not self._local_buffer:
            return b""
        result = self._run(lambda c: self._read(c, key, bytes))
        return result if isinstance(result, bytes) else b""

    def get_batch(self, keys):
        """get of each key: a list of bytes (empty for a missing key or on an error)."""
        if not self._local_buffer:
            return [b""] * len(keys)
        results = self._run(lambda c: self._read_many(c, keys, lambda i, value: bytes(value)))
        if not isinstance(results, list):
            return [b""] * len(keys)
        return [r if isinstance(r, bytes) else b"" for r in results]

    def get_buffer(self, key):
        """The value of key in a BufferHandle, or None when it is missing or on an error (and
        when setup's local_buffer_size was 0)."""
        if not self._local_buffer:
            return None
        result = self._run(lambda c: self._read(c, key, BufferHandle))
        return result if isinstance(result, BufferHandle) else None

    def batch_get_buffer(self, keys):
        """get_buffer of each key: a list of BufferHandle or None."""
        if not self._local_buffer:
            return [None] * len(keys)
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
        results = c.read_blocks([bkey for bkey, _ in names], consume, [kb for _, kb in names])
        for r in results:
            if r is MISMATCH:  # the sidecar (version 3) found another string's block
                self._mismatch()
        return [OBJECT_NOT_FOUND if r is None or r is MISMATCH else r for r in results]

    def _read(self, c, key, make):
        """make(view of the value) of key, or raises Failed(OBJECT_NOT_FOUND)."""
        bkey, kb = self._key(key)
        n = _keys.header_length(kb)

        def consume(block):
            if _keys.value_length(block, kb, len(block)) is None:
                return MISMATCH
            return make(block[n:])
        return self._found(c.read_block(bkey, consume, kb))

    def get_size(self, key):
        """The value's length in bytes, or a negative code (OBJECT_NOT_FOUND when missing)."""
        return self._run(lambda c: self._value_length(c, key))

    def _value_length(self, c, key):
        bkey, kb = self._key(key)
        return self._found(c.read_header(bkey, kb))

    def _found(self, result):
        """result, unless it is None (missing) or MISMATCH (another string's block, counted): then OBJECT_NOT_FOUND."""
        if result is MISMATCH:
            self._mismatch()
        if result is None or result is MISMATCH:
            raise Failed(OBJECT_NOT_FOUND)
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
            for length in c.read_headers([bkey for bkey, _ in names], [kb for _, kb in names]):
                if length is MISMATCH:
                    self._mismatch()
                out.append(0 if length is None or length is MISMATCH else 1)
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
            bkey, _ = self._key(key)
            self._value_length(c, key)  # never removes a block of another string key
            answer = remove_block(c, bkey, self._timeout if force else RELEASE_GRACE_S)
            return OK if answer == 0 else OBJECT_HAS_LEASE if answer == 2 else OBJECT_NOT_FOUND
        return self._run(op)

    def batch_remove(self, keys, force=False):
        """remove of each key: a list of codes."""
        return [self.remove(k, force) for k in keys]

    def remove_all(self, force=False):
        """Removes every object of the store (every client's: the store is shared) that no
        reader holds; the number removed, or a negative code. Hard-pinned objects
        (ReplicateConfig.with_hard_pin) stay unless ``force``; objects a reader is moving and
        objects being written always stay.
        """
        return self._run(lambda c: c.client.remove_all(bool(force)))

    # --- registered memory -------------------------------------------------------------

    def register_buffer(self, buffer_ptr, size):
        """Registers memory for put_from / get_into; 0, or INVALID_PARAMS (a bad or overlapping
        range, or memory this process cannot read and write, such as GPU memory).

        Memory of MooncakeHostMemAllocator reaches the sidecar directly (it maps it); other
        memory the sidecar reads and writes with process_vm_readv / writev where the kernel
        lets it, else it is copied through the connection's staging buffer (one copy more):
        debug_info() says which path served (docs/integration.md, Copies). The whole 2 MiB
        pages of such private memory are put in transparent huge pages, the untouched ones
        faulted in (memory.advise_huge_pages: the kernel's copies of it run faster;
        ``FERRY_HUGE_PAGES=0`` turns it off).
        """
        if not isinstance(buffer_ptr, int) or not isinstance(size, int) or buffer_ptr <= 0 or size <= 0:
            return INVALID_PARAMS
        if not host_memory(buffer_ptr, size):
            return INVALID_PARAMS
        with self._lock:
            for ptr, n in self._regions.items():
                if buffer_ptr < ptr + n and ptr < buffer_ptr + size:
                    return INVALID_PARAMS
            self._regions[buffer_ptr] = size
        if allocation_of(buffer_ptr, size) is None:
            self._paths.huge_pages(advise_huge_pages(buffer_ptr, size))
        return OK

    def unregister_buffer(self, buffer_ptr):
        with self._lock:
            return OK if self._regions.pop(buffer_ptr, None) is not None else INVALID_PARAMS

    def _registered(self, ptr, size):
        if not isinstance(ptr, int) or not isinstance(size, int) or size < 0:
            raise Failed(INVALID_PARAMS)
        with self._lock:
            if any(p <= ptr and ptr + size <= p + n for p, n in self._regions.items()):
                return
        if allocation_of(ptr, size) is None:
            raise Failed(INVALID_PARAMS)

    def put_from(self, key, buffer_ptr, size, config=None):
        """Stores `size` bytes at buffer_ptr (registered memory) under key; 0, or a negative code."""
        def op(c):
            c.use_options(_options(config))
            bkey, kb, write = self._source(c, key, buffer_ptr, size)
            return self._store(c, bkey, kb, False, write)
        return self._run(op)

    def _source(self, c, key, buffer_ptr, size):
        """(bkey, key bytes, write) of a put from registered memory: copied once by the sidecar
        from host memory of the allocator, or from private memory (when the sidecar may reach
        it), else through the staging buffer; raises Failed(INVALID_PARAMS)."""
        bkey, kb = self._key(key)
        self._registered(buffer_ptr, size)
        if size == 0:
            raise Failed(INVALID_PARAMS)
        header = _keys.header(kb, size)
        allocation = allocation_of(buffer_ptr, size)
        # PUT_NAMED (version 3) places every copy of an allocation's value; PUT_FROM and
        # PUT_START one
        if c.staging is not None and allocation is not None and (c.named or c.put_options[0] == 1):
            return bkey, kb, InPlace(c, bkey, header, allocation, buffer_ptr - allocation.address, size)
        if c.staging is not None and allocation is None and c.process_memory and c.put_options[0] == 1:
            return bkey, kb, InPlace(c, bkey, header, None, buffer_ptr, size)
        source = memoryview((ctypes.c_char * size).from_address(buffer_ptr)).cast("B")
        return bkey, kb, Staged(c, bkey, header, [source])

    def _read_into(self, c, keys, ptrs, sizes):
        """Values of keys read straight into registered memory (GET_INTO: one copy, by the
        sidecar): per key its length or a negative code; None when the connection cannot
        (then the caller copies through the staging buffer)."""
        names = [self._key(k) for k in keys]
        entries = []
        for (bkey, kb), ptr, size in zip(names, ptrs, sizes):
            allocation = allocation_of(ptr, size)
            if allocation is not None:
                entries.append((bkey, kb, allocation, ptr - allocation.address, size))
            else:
                entries.append((bkey, kb, None, ptr, size))
        results = c.read_blocks_into(entries)
        if results is None:
            return None
        out = []
        for r in results:
            if r is MISMATCH:
                self._mismatch()
            out.append(OBJECT_NOT_FOUND if r is None or r is MISMATCH else r)
        return out

    def get_into(self, key, buffer_ptr, size):
        """Copies the value of key to buffer_ptr (registered memory, `size` bytes free); the
        value's length, or a negative code (BUFFER_OVERFLOW when it does not fit)."""
        def op(c):
            self._registered(buffer_ptr, size)
            direct = self._read_into(c, [key], [buffer_ptr], [size])
            if direct is not None:
                return direct[0]
            self._paths.add("staging")
            return self._read(c, key, lambda value: copy_out(value, buffer_ptr, size))
        return self._run(op)

    def batch_put_from(self, keys, buffer_ptrs, sizes, config=None):
        """put_from of each triple: a list of codes. Values the sidecar copies itself (host
        memory of the allocator; private memory where it may reach it) go in one request
        (PUT_FROM) when their headers fit the staging buffer; copies through the staging
        buffer go in one request when they fit it (docs/integration.md: copy paths)."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        out = [INVALID_PARAMS] * len(keys)

        def op(c):
            c.use_options(_options(config))
            staged, in_place = [], []
            for i, (key, ptr, size) in enumerate(zip(keys, buffer_ptrs, sizes)):
                try:
                    bkey, kb, write = self._source(c, key, ptr, size)
                    (staged if isinstance(write, Staged) else in_place).append((i, bkey, kb, write))
                except Failed as e:
                    out[i] = e.code
            answers = c.put_blocks_from([w.entry() for _, _, _, w in in_place]) if in_place else []
            answers += c.put_blocks([(w.bkey, w.header, w.parts) for _, _, _, w in staged])
            self._paths.add("staging", len(staged))
            for (i, bkey, kb, write), stored in zip(in_place + staged, answers):
                try:
                    out[i] = (OK if stored == 0 else INVALID_PARAMS if stored == UNREADABLE
                              else self._store(c, bkey, kb, False, write))
                except Failed as e:
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
            except Failed:
                checked.append(False)
        wanted = [i for i, ok in enumerate(checked) if ok]

        def op(c):
            direct = self._read_into(c, [keys[i] for i in wanted], [buffer_ptrs[i] for i in wanted],
                                     [sizes[i] for i in wanted])
            if direct is not None:
                return direct
            self._paths.add("staging", len(wanted))
            return self._read_many(c, [keys[i] for i in wanted],
                                   lambda j, value: copy_out(value, buffer_ptrs[wanted[j]], sizes[wanted[j]]))
        results = self._run(op) if wanted else []
        out = [INVALID_PARAMS] * len(keys)
        for j, i in enumerate(wanted):
            out[i] = results[j] if isinstance(results, list) else results
        return out

    def batch_put_from_multi_buffers(self, keys, all_buffer_ptrs, all_sizes, config=None):
        """Stores, under keys[i], the concatenation of all_sizes[i][j] bytes at all_buffer_ptrs[i][j]
        (registered memory) in order: a list of codes (0, or a negative code per key).

        The parts are copied through the staging buffer (one copy), the whole batch in one
        request when it fits; a key whose parts are not all in registered memory, or whose
        lists differ in length or hold nothing, answers INVALID_PARAMS and the others go on.
        """
        if not len(keys) == len(all_buffer_ptrs) == len(all_sizes):
            return [INVALID_PARAMS] * len(keys)
        out = [INVALID_PARAMS] * len(keys)

        def op(c):
            c.use_options(_options(config))
            entries, names, where = [], [], []
            for i, (key, ptrs, sizes) in enumerate(zip(keys, all_buffer_ptrs, all_sizes)):
                try:
                    bkey, kb = self._key(key)
                    views = self._parts(ptrs, sizes)
                except Failed as e:
                    out[i] = e.code
                    continue
                entries.append((bkey, _keys.header(kb, sum(len(v) for v in views)), views))
                names.append((bkey, kb))
                where.append(i)
            for i, (bkey, kb), entry, stored in zip(where, names, entries, c.put_blocks(entries)):
                try:
                    out[i] = OK if stored == 0 else self._store(c, bkey, kb, False, lambda e=entry: c.put_block(*e))
                except Failed as e:
                    out[i] = e.code
            return out
        result = self._run(op)
        return result if isinstance(result, list) else [result] * len(keys)

    def _parts(self, ptrs, sizes):
        """Views of the registered memory of one key's parts; raises Failed(INVALID_PARAMS)."""
        if not isinstance(ptrs, (list, tuple)) or not isinstance(sizes, (list, tuple)) or len(ptrs) != len(sizes):
            raise Failed(INVALID_PARAMS)
        views = []
        for ptr, size in zip(ptrs, sizes):
            self._registered(ptr, size)
            if size > 0:
                views.append(memoryview((ctypes.c_char * size).from_address(ptr)).cast("B"))
        if not views:
            raise Failed(INVALID_PARAMS)
        return views

    def batch_get_into_multi_buffers(self, keys, all_buffer_ptrs, all_sizes, prefer_alloc_in_same_node=False):
        """Copies the value of keys[i] into the buffers all_buffer_ptrs[i] (registered memory,
        all_sizes[i][j] bytes each), filling them in order: a list of the values' lengths, or
        negative codes (BUFFER_OVERFLOW when a value is longer than its buffers together,
        OBJECT_NOT_FOUND, INVALID_PARAMS). ``prefer_alloc_in_same_node`` is accepted and not used.
        """
        if not len(keys) == len(all_buffer_ptrs) == len(all_sizes):
            return [INVALID_PARAMS] * len(keys)
        out = [INVALID_PARAMS] * len(keys)
        wanted = []
        for i, (ptrs, sizes) in enumerate(zip(all_buffer_ptrs, all_sizes)):
            try:
                self._parts(ptrs, sizes)
                wanted.append(i)
            except Failed as e:
                out[i] = e.code

        def scatter(i, value):
            if len(value) > sum(all_sizes[i]):
                return BUFFER_OVERFLOW
            at = 0
            for ptr, size in zip(all_buffer_ptrs[i], all_sizes[i]):
                n = min(size, len(value) - at)
                if n <= 0:
                    break
                copy_out(value[at:at + n], ptr, n)
                at += n
            return len(value)
        results = self._run(lambda c: self._read_many(c, [keys[i] for i in wanted],
                                                      lambda j, value: scatter(wanted[j], value))) if wanted else []
        for j, i in enumerate(wanted):
            out[i] = results[j] if isinstance(results, list) else results
        return out

    def get_into_ranges(self, buffer_ptrs, all_keys, all_dst_offsets, all_src_offsets, all_sizes):
        """Mooncake's ranged read: for each buffer i, key j and fragment k, copies all_sizes[i][j][k]
        bytes at all_src_offsets[i][j][k] of the value of all_keys[i][j] to
        buffer_ptrs[i] + all_dst_offsets[i][j][k]. Answers results[i][j][k]: the bytes copied,
        or a negative code (INVALID_PARAMS for mismatched shapes, a source range past the value's
        end, or a buffer not registered; BUFFER_OVERFLOW for a destination past the registered
        region; OBJECT_NOT_FOUND). Each key is read whole (CRC32C-checked) once per buffer.
        """
        lists = (buffer_ptrs, all_keys, all_dst_offsets, all_src_offsets, all_sizes)
        if any(not isinstance(x, (list, tuple)) for x in lists) or len({len(x) for x in lists}) != 1:
            return [[[INVALID_PARAMS]] for _ in buffer_ptrs] if isinstance(buffer_ptrs, (list, tuple)) else []
        return [self._ranges_of_buffer(*plan) for plan in zip(*lists)]

    def _ranges_of_buffer(self, ptr, keys, dsts, srcs, sizes):
        lists = (keys, dsts, srcs, sizes)
        if any(not isinstance(x, (list, tuple)) for x in lists) or len({len(x) for x in lists}) != 1:
            return [[INVALID_PARAMS] for _ in (keys if isinstance(keys, (list, tuple)) else ())]
        region = self._region_of(ptr)
        out = []
        for key, d, s, n in zip(keys, dsts, srcs, sizes):
            if (any(not isinstance(x, (list, tuple)) for x in (d, s, n)) or not len(d) == len(s) == len(n)
                    or any(not isinstance(v, int) or v < 0 for v in list(d) + list(s) + list(n))):
                out.append([INVALID_PARAMS] * (len(d) if isinstance(d, (list, tuple)) else 1))
                continue
            if region is None:
                out.append([INVALID_PARAMS] * len(d))
                continue

            def copy(value, d=d, s=s, n=n):
                answers = []
                for dst, src, size in zip(d, s, n):
                    if src + size > len(value):
                        answers.append(INVALID_PARAMS)
                    elif ptr + dst + size > region[0] + region[1]:
                        answers.append(BUFFER_OVERFLOW)
                    else:
                        copy_out(value[src:src + size], ptr + dst, size)
                        answers.append(size)
                return answers
            result = self._run(lambda c, key=key, copy=copy: self._read(c, key, copy))
            out.append(result if isinstance(result, list) else [result] * len(d))
        return out

    def _region_of(self, ptr):
        """(address, size) of the registered region or allocation holding ptr, or None."""
        if not isinstance(ptr, int):
            return None
        with self._lock:
            for p, n in self._regions.items():
                if p <= ptr < p + n:
                    return p, n
        allocation = allocation_of(ptr, 1)
        return None if allocation is None else (allocation.address, allocation.size)


_WORKDIR_PREFIX = "ferry-mooncake-"  # + owner pid + "-" + random: a private folder of the sidecar's socket


def _sweep_workdirs():
    """Removes this user's socket folders of processes that are gone (killed before their close())."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), _WORKDIR_PREFIX + "*-*")):
        pid = os.path.basename(path)[len(_WORKDIR_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or os.stat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)  # raises when no such process: its folder is stale
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # gone meanwhile, or a process of another user (PermissionError): leave it
            continue


# Mooncake's transfer engine listens on a port of this range (inclusive) when local_hostname
# names none; setup() gives the sidecar's transfer engine one of them too (get_hostname()).
P2P_PORTS = (12300, 14300)
_PORT_TRIES = 3  # sidecar starts when the port picked was taken meanwhile by another process


def _start_sidecar(host, args, ready_timeout):
    """The SidecarProcess of args whose transfer engine listens on host (``--data``): on
    host's port when it names one, else on a free port of P2P_PORTS (any free port when
    none of those is); raises what SidecarProcess raises."""
    if _has_port(host):
        return SidecarProcess(args + ["--data", host], ready_timeout)
    for attempt in range(_PORT_TRIES):
        port = _free_port(host)
        try:
            return SidecarProcess(args + ["--data", "%s:%d" % (host, port)], ready_timeout)
        except RuntimeError:
            # another process took the port between the check and the sidecar's bind: again
            if port == 0 or attempt == _PORT_TRIES - 1 or _bindable(host, port):
                raise
    raise AssertionError("unreachable")


def _free_port(host):
    """A port of P2P_PORTS that host:port can be bound on now, or 0 when none of 64 tried is."""
    low, high = P2P_PORTS
    for port in random.sample(range(low, high + 1), 64):
        if _bindable(host, port):
            return port
    return 0


def _bindable(host, port):
    try:
        with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as s:
            s.bind((host.strip("[]"), port))
        return True
    except OSError:  # taken, or host is not an address of this machine
        return False


def _has_port(address):
    head, sep, port = address.rpartition(":")
    return bool(sep) and bool(head) and port.isdigit()
