"""Mooncake Store's documented API semantics through ferry.mooncake, method by method:
arguments and defaults, answers and error codes for missing keys, empty batches, repeated
keys, calls after close, the methods Mooncake added later (remove_by_regex, upserts from
memory, tensors), placement (preferred_segment) and soft pins; against a real master and
real sidecars. docs/integration.md lists what matches and what stays different.

FERRY_MASTER is the master's host:port and FERRY_HOME a Ferry distribution (./ferry dist);
the tests that need a cluster are skipped without them. Run:
    FERRY_HOME=target/ferry-dist FERRY_MASTER=127.0.0.1:50051 python3 -m unittest -v test_mooncake_api
"""

import ctypes
import logging
import os
import struct
import time
import unittest
import uuid

from ferry import keys, mooncake, tensors
from ferry.extended import _cpu_list
from ferry.mooncake import (INVALID_PARAMS, OBJECT_HAS_LEASE, OBJECT_NOT_FOUND, OK, UNAVAILABLE_IN_CURRENT_MODE,
                            UNAVAILABLE_IN_CURRENT_STATUS, MooncakeDistributedStore, MooncakeHostMemAllocator,
                            ReplicaStatus, ReplicateConfig, SoftPinAction, TaskStatus, TaskType)
from small_store import small_store

MASTER = os.environ.get("FERRY_MASTER")
HOME = os.environ.get("FERRY_HOME")
RUN = os.urandom(4).hex()  # keys of this run: a sidecar may have served earlier runs
DEADLINE_S = 30
NO_CLUSTER = "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against"
NO_TORCH = "torch is not installed (Debian: python3-torch): the torch tensor methods are not tested"


def key(name):
    return "%s/api/%s" % (RUN, name)


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _huge_pages_kb(ptr):
    """AnonHugePages of the mapping that holds ptr, kB (/proc/self/smaps)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                inside = lo <= ptr < hi
            elif inside and fields[0] == "AnonHugePages:":
                return int(fields[1])
    return 0


def _collapse_supported():
    """Whether this kernel puts madvised anonymous memory in huge pages and has MADV_COLLAPSE (6.1+)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            if "[never]" in f.read():
                return False
    except OSError:
        return False
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 1)


class OfflineTest(unittest.TestCase):
    """What needs no cluster: the stored tensor layout, config checks, namespaces, allocator failures."""

    @unittest.skipUnless(_collapse_supported(), "no transparent huge pages or no MADV_COLLAPSE (Linux 6.1+) here")
    def test_registered_private_memory_goes_to_huge_pages_with_its_bytes(self):
        import mmap
        size = 8 << 20
        for enabled in (True, False):
            region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            anchor = (ctypes.c_char * size).from_buffer(region)
            ptr = ctypes.addressof(anchor)
            pattern = os.urandom(size)
            region[:] = pattern
            before = _huge_pages_kb(ptr)
            store = MooncakeDistributedStore()
            saved = os.environ.get("FERRY_HUGE_PAGES")
            os.environ["FERRY_HUGE_PAGES"] = "1" if enabled else "0"
            try:
                self.assertEqual(store.register_buffer(ptr, size), OK)
            finally:
                if saved is None:
                    del os.environ["FERRY_HUGE_PAGES"]
                else:
                    os.environ["FERRY_HUGE_PAGES"] = saved
            # the whole 2 MiB pages inside the region: 3 of them when it does not start on one
            whole = ((ptr + size) & ~((2 << 20) - 1)) - ((ptr + (2 << 20) - 1) & ~((2 << 20) - 1))
            self.assertEqual(store.debug_info()["huge_page_bytes"], whole if enabled else 0)
            if enabled:
                self.assertGreater(_huge_pages_kb(ptr), before)
            else:
                self.assertEqual(_huge_pages_kb(ptr), before)
            self.assertEqual(bytes(region), pattern, "a collapse keeps every byte")
            self.assertEqual(store.unregister_buffer(ptr), OK)
            del anchor
            region.close()

    def test_the_tensor_layout_is_mooncakes(self):
        meta = tensors.encode_metadata("bfloat16", (2, 3))
        self.assertEqual(len(meta), 40)
        self.assertEqual(struct.unpack("<ii4q", meta), (12, 2, 2, 3, -1, -1))
        self.assertEqual(tensors.decode_metadata(meta + b"\0" * 12), ("bfloat16", (2, 3)))
        self.assertIsNone(tensors.decode_metadata(meta))  # no bytes after the metadata
        self.assertIsNone(tensors.decode_metadata(struct.pack("<ii4q", 15, 1, 4, -1, -1, -1) + b"x"))  # dtype
        self.assertIsNone(tensors.decode_metadata(struct.pack("<ii4q", 0, 5, 1, 1, 1, 1) + b"x"))  # ndim
        with self.assertRaises(ValueError):
            tensors.encode_metadata("complex64", (1,))
        with self.assertRaises(ValueError):
            tensors.encode_metadata("float32", (1, 1, 1, 1, 1))
        self.assertEqual(tensors.tp_key("w", 3), "w_tp_3")

    def test_replicate_config_maps_to_the_sidecars_options(self):
        self.assertEqual(mooncake._options(None), (1, False, 0, None))
        config = ReplicateConfig()
        config.replica_num, config.with_soft_pin, config.preferred_segment = 2, True, "host:1"
        self.assertEqual(mooncake._options(config), (2, False, mooncake.DEFAULT_SOFT_PIN_TTL_MS, "host:1"))
        config.soft_pin_ttl_ms = 5000
        config.soft_pin_action = SoftPinAction.DISABLE
        self.assertEqual(mooncake._options(config)[2], 0)
        config.with_soft_pin, config.soft_pin_action = False, SoftPinAction.ENABLE
        self.assertEqual(mooncake._options(config)[2], 5000)
        config.preferred_segment, config.preferred_segments = "", ["a:1", "b:2"]
        self.assertEqual(mooncake._options(config)[3], "a:1")
        for field, bad in (("preferred_segments", ["a:1", "b:2"]), ("soft_pin_ttl_ms", -1), ("preferred_segment", 7),
                           ("replica_num", 65), ("soft_pin_action", 3)):
            broken = ReplicateConfig()
            setattr(broken, field, bad)
            with self.assertRaises(mooncake.Failed, msg=field) as caught:
                mooncake._options(broken)
            self.assertEqual(caught.exception.code, INVALID_PARAMS)
        self.assertIn("replica_num=1", str(ReplicateConfig()))

    def test_tenant_namespaces_never_meet(self):
        self.assertEqual(keys.namespace("default"), b"")
        self.assertEqual(keys.namespace(""), b"")
        a, b = keys.namespace("a"), keys.namespace("b")
        self.assertNotEqual(a + "k".encode(), b + "k".encode())
        self.assertNotIn(b"\xff", "\uffff\u00ff key".encode("utf-8"))  # no key's UTF-8 holds the separator

    def test_the_allocator_answers_0_when_it_cannot_allocate(self):
        allocator = MooncakeHostMemAllocator()
        self.assertEqual(allocator.alloc(0), 0)
        self.assertEqual(allocator.alloc(-5), 0)
        self.assertEqual(allocator.alloc(True), 0)
        self.assertEqual(allocator.free(12345), INVALID_PARAMS)

    def test_module_names_and_enums(self):
        self.assertEqual((ReplicaStatus.COMPLETE, TaskType.REPLICA_MOVE, TaskStatus.FAILED), (3, 1, 3))
        self.assertEqual(_cpu_list("0-2,5,7-8\n"), {0, 1, 2, 5, 7, 8})
        store = MooncakeDistributedStore()
        self.assertEqual(store.close(), OK)  # before setup: nothing to close
        self.assertEqual(store.put(key("x"), b"x"), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(store.remove_by_regex(".*"), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(store.alloc_from_mem_pool(4096), 0)

    def test_bind_to_numa_node_binds_to_the_nodes_cpus_or_warns(self):
        before = os.sched_getaffinity(0)
        try:
            path = "/sys/devices/system/node/node0/cpulist"
            if os.path.exists(path):
                with open(path) as f:
                    node0 = _cpu_list(f.read())
                mooncake.bind_to_numa_node(0)
                self.assertEqual(os.sched_getaffinity(0), node0 & before if node0 & before else node0)
            with self.assertLogs("ferry.mooncake", logging.WARNING):
                mooncake.bind_to_numa_node(4096)
        finally:
            os.sched_setaffinity(0, before)


@unittest.skipUnless(MASTER and HOME, NO_CLUSTER)
class ApiSemanticsTest(unittest.TestCase):
    store = None

    @classmethod
    def setUpClass(cls):
        cls.store = MooncakeDistributedStore()
        code = cls.store.setup("127.0.0.1", "P2PHANDSHAKE", 32 << 20, 1 << 20, "tcp", "", MASTER)
        assert code == OK, code

    @classmethod
    def tearDownClass(cls):
        cls.store.close()

    def test_empty_batches_answer_empty_lists(self):
        s = self.store
        self.assertEqual(s.put_batch([], []), OK)
        self.assertEqual(s.upsert_batch([], []), OK)
        self.assertEqual((s.get_batch([]), s.batch_get_buffer([]), s.batch_is_exist([]), s.batch_remove([])),
                         ([], [], [], []))
        self.assertEqual((s.batch_put_from([], [], []), s.batch_get_into([], [], []),
                          s.batch_put_from_multi_buffers([], [], []), s.batch_get_into_multi_buffers([], [], []),
                          s.batch_upsert_from([], [], []), s.get_into_ranges([], [], [], [], [])),
                         ([], [], [], [], [], []))

    def test_repeated_keys_in_a_batch_keep_the_first_value(self):
        k = key("twice")
        self.assertEqual(self.store.put_batch([k, k], [b"first", b"second value"]), OK)
        self.assertEqual(self.store.get_batch([k, k]), [b"first", b"first"])
        self.assertEqual(self.store.batch_is_exist([k, k]), [1, 1])
        self.assertEqual(self.store.batch_remove([k, k]), [OK, OBJECT_NOT_FOUND])
        u = key("upsert-twice")
        self.assertEqual(self.store.upsert_batch([u, u], [b"one", b"two"]), OK)
        self.assertEqual(self.store.get(u), b"two")  # upserts apply in order: the last one stays

    def test_missing_keys_answer_mooncakes_codes(self):
        m = key("missing")
        self.assertEqual((self.store.get(m), self.store.get_buffer(m), self.store.is_exist(m),
                          self.store.get_size(m), self.store.remove(m)),
                         (b"", None, 0, OBJECT_NOT_FOUND, OBJECT_NOT_FOUND))
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(4096)
        try:
            self.assertEqual(self.store.get_into(m, ptr, 4096), OBJECT_NOT_FOUND)
            self.assertIsNone(self.store.get_tensor_into(m, ptr, 4096))
        finally:
            allocator.free(ptr)

    def test_calls_after_close_are_refused_and_close_repeats(self):
        other = MooncakeDistributedStore()
        self.assertEqual(other.setup_dummy(1 << 20, 1 << 20, self.store._sidecar.fields["socket"]), OK)
        self.assertEqual(other.put(key("closed"), b"x"), OK)
        self.assertEqual(other.close(), OK)
        self.assertEqual(other.close(), OK)
        self.assertEqual(other.put(key("closed"), b"y"), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(other.get(key("closed")), b"")
        self.assertEqual(other.get_batch([key("closed")] * 2), [b"", b""])
        self.assertEqual(other.is_exist(key("closed")), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(other.batch_is_exist([key("closed")]), [UNAVAILABLE_IN_CURRENT_STATUS])
        self.assertEqual(other.remove_all(), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(self.store.get(key("closed")), b"x")  # the store itself stays

    def test_upserts_and_puts_from_registered_memory(self):
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(1 << 16)
        try:
            k = key("upsert-parts")
            self.assertEqual(self.store.put(k, b"old"), OK)
            self.assertEqual(self.store.upsert_parts(k, b"new ", bytearray(b"parts")), OK)
            self.assertEqual(self.store.get(k), b"new parts")
            ctypes.memmove(ptr, b"0123456789", 10)
            self.assertEqual(self.store.upsert_from(k, ptr, 4), OK)
            self.assertEqual(self.store.get(k), b"0123")
            self.assertEqual(self.store.upsert_from(k, ptr, 0), INVALID_PARAMS)
            private = ctypes.create_string_buffer(8)  # not registered
            self.assertEqual(self.store.upsert_from(k, ctypes.addressof(private), 8), INVALID_PARAMS)
            ks = [key("bu-0"), key("bu-1")]
            self.assertEqual(self.store.batch_upsert_from(ks, [ptr, ptr + 5], [5, 5]), [OK, OK])
            self.assertEqual(self.store.get_batch(ks), [b"01234", b"56789"])
            self.assertEqual(self.store.batch_upsert_from(ks, [ptr], [5, 5]), [INVALID_PARAMS] * 2)
            # put_from_with_metadata stores the metadata first, then the data (Mooncake's order).
            ctypes.memmove(ptr + 100, b"META", 4)
            m = key("with-metadata")
            self.assertEqual(self.store.put_from_with_metadata(m, ptr, ptr + 100, 10, 4), OK)
            self.assertEqual(self.store.get(m), b"META0123456789")
            self.assertEqual(self.store.put_from_with_metadata(key("no-data"), ptr, ptr + 100, 0, 4), OK)
            self.assertEqual(self.store.is_exist(key("no-data")), 0)  # size 0 stores nothing, as Mooncake's
        finally:
            allocator.free(ptr)

    def test_alloc_from_mem_pool_gives_memory_put_from_takes(self):
        ptr = self.store.alloc_from_mem_pool(8192)
        self.assertNotEqual(ptr, 0)
        try:
            ctypes.memmove(ptr, b"pooled", 6)
            self.assertEqual(self.store.put_from(key("pooled"), ptr, 6), OK)
            self.assertEqual(self.store.get(key("pooled")), b"pooled")
        finally:
            self.assertEqual(MooncakeHostMemAllocator().free(ptr), OK)
        self.assertEqual(self.store.alloc_from_mem_pool(0), 0)

    def test_remove_by_regex_removes_the_matching_keys_only(self):
        prefix = "%s/rx" % RUN
        names = ["%s/user_session_%d" % (prefix, i) for i in range(3)] + ["%s/system" % prefix]
        self.assertEqual(self.store.put_batch(names, [b"s0", b"s1", b"s2", b"sys"]), OK)
        pin = ReplicateConfig()
        pin.with_hard_pin = True
        pinned = "%s/user_session_pinned" % prefix
        self.assertEqual(self.store.put(pinned, b"pinned", pin), OK)
        self.assertEqual(self.store.remove_by_regex("^" + prefix + "/user_session_.*"), 3)  # not the pinned one
        self.assertEqual(self.store.batch_is_exist(names + [pinned]), [0, 0, 0, 1, 1])
        self.assertEqual(self.store.remove_by_regex(prefix + "/user_session_", force=True), 1)
        self.assertEqual(self.store.remove_by_regex("^" + prefix + "/nothing"), 0)
        self.assertEqual(self.store.remove_by_regex("("), INVALID_PARAMS)  # not a regular expression
        self.assertEqual(self.store.remove_by_regex(regex_pattern=prefix + "/sys"), 1)
        with self.assertRaises(TypeError):
            self.store.remove_by_regex(b"bytes")

    def test_remove_by_regex_spares_a_value_a_reader_holds(self):
        k = key("held-by-reader")
        self.assertEqual(self.store.put(k, b"held"), OK)
        other = MooncakeDistributedStore()
        self.assertEqual(other.setup("127.0.0.1", "P2PHANDSHAKE", 4 << 20, 1 << 20, "tcp", "", MASTER), OK)
        try:
            self.assertEqual(other.get(k), b"held")  # its sidecar keeps the lease a while (the lease cache)
            removed = self.store.remove_by_regex("^" + k + "$")
            self.assertIn(removed, (0, 1))
            if removed == 0:
                self.assertEqual(self.store.remove(k), OBJECT_HAS_LEASE)
        finally:
            other.close()

    def test_what_ferry_does_not_offer_is_told_with_a_code(self):
        s = self.store
        self.assertEqual(s.create_copy_task(key("x"), ["seg"]), (uuid.UUID(int=0), UNAVAILABLE_IN_CURRENT_MODE))
        self.assertEqual(s.create_move_task(key("x"), "a", "b")[1], UNAVAILABLE_IN_CURRENT_MODE)
        self.assertEqual(s.query_task(uuid.uuid4()), (None, UNAVAILABLE_IN_CURRENT_MODE))
        self.assertEqual(s.mount_segment("/dev/shm/x", 1 << 20)["ret"], UNAVAILABLE_IN_CURRENT_MODE)
        self.assertEqual(s.allocate_and_mount_segment(1 << 20)["segment_ids"], [])
        self.assertEqual(s.unmount_segment(["x"]), UNAVAILABLE_IN_CURRENT_MODE)
        self.assertEqual(s.unmount_and_free_segment(["x"], grace_period_seconds=1), UNAVAILABLE_IN_CURRENT_MODE)
        self.assertEqual(s.init_all("tcp", "", 1 << 20), UNAVAILABLE_IN_CURRENT_MODE)
        with self.assertRaises(TypeError):
            s.get_replica_desc(7)

    def test_a_serialized_tensor_round_trips_without_torch(self):
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(4096)
        try:
            values = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
            stored = tensors.encode_metadata("float32", (2, 3)) + values
            ctypes.memmove(ptr, stored, len(stored))
            k = key("tensor-bytes")
            self.assertEqual(self.store.put_tensor_from(k, ptr, len(stored)), OK)
            self.assertEqual(self.store.get(k), stored)  # Mooncake's layout, byte for byte
            self.assertEqual(self.store.get_into(k, ptr + 1024, 1024), len(stored))
            self.assertEqual(tensors.decode_metadata(ctypes.string_at(ptr + 1024, len(stored))),
                             ("float32", (2, 3)))
            self.assertEqual(self.store.put_tensor_from(key("not-a-tensor"), ptr + 40, 24), INVALID_PARAMS)
            ctypes.memmove(ptr + 2048, tensors.encode_metadata("int8", (4,)) + b"abcd", 44)
            self.assertEqual(self.store.upsert_tensor_from(k, ptr + 2048, 44), OK)
            self.assertEqual(self.store.get(k)[40:], b"abcd")
            self.assertEqual(self.store.batch_put_tensor_from([k], [ptr], [1, 2]), [INVALID_PARAMS])
        finally:
            allocator.free(ptr)

    @unittest.skipIf(_torch() is None, NO_TORCH)
    def test_torch_tensors_round_trip_in_every_form(self):
        torch = _torch()
        t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
        k = key("torch")
        self.assertEqual(self.store.put_tensor(k, t), OK)
        self.assertTrue(torch.equal(self.store.get_tensor(k), t))
        self.assertEqual(self.store.put_tensor(key("not-tensor"), [1, 2]), INVALID_PARAMS)
        self.assertIsNone(self.store.get_tensor(key("absent")))
        bf = torch.ones(3, dtype=torch.bfloat16)
        self.assertEqual(self.store.batch_put_tensor([key("bf"), key("i8")], [bf, torch.ones(2, dtype=torch.int8)]),
                         [OK, OK])
        got = self.store.batch_get_tensor([key("bf"), key("absent")])
        self.assertTrue(torch.equal(got[0], bf))
        self.assertIsNone(got[1])
        self.assertEqual(self.store.put_tensor_with_tp(key("tp"), t, tp_size=2, split_dim=1), OK)
        self.assertTrue(torch.equal(self.store.get_tensor_with_tp(key("tp"), tp_rank=1, tp_size=2), t[:, 3:]))
        self.assertEqual(self.store.upsert_tensor(k, t * 2), OK)
        self.assertTrue(torch.equal(self.store.get_tensor(k), t * 2))
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(4096)
        try:
            into = self.store.get_tensor_into(k, ptr, 4096)
            self.assertTrue(torch.equal(into, t * 2))
            self.assertEqual(self.store.put_tensor_from(key("from"), ptr, 40 + t.numel() * 4), OK)
            self.assertTrue(torch.equal(self.store.get_tensor(key("from")), t * 2))
        finally:
            allocator.free(ptr)

    def test_setup_takes_mooncakes_newer_arguments_and_tenants_are_namespaces(self):
        tenant = MooncakeDistributedStore()
        self.assertEqual(tenant.setup("127.0.0.1", "P2PHANDSHAKE", 4 << 20, 1 << 20, "tcp", "", MASTER,
                                      enable_ssd_offload=False, ssd_offload_path="", tenant_id="acme"), OK)
        try:
            k = key("tenant-key")
            self.assertEqual(self.store.put(k, b"default tenant"), OK)
            self.assertEqual(tenant.get(k), b"")  # another tenant's key
            self.assertEqual(tenant.put(k, b"acme's"), OK)
            self.assertEqual(tenant.get(k), b"acme's")
            self.assertEqual(self.store.get(k), b"default tenant")
            self.assertEqual(tenant.remove(k), OK)
            self.assertEqual(self.store.get(k), b"default tenant")
        finally:
            tenant.close()

    def test_preferred_segment_places_the_copy_on_the_named_store(self):
        other = MooncakeDistributedStore()
        self.assertEqual(other.setup("127.0.0.1", "P2PHANDSHAKE", 4 << 20, 1 << 20, "tcp", "", MASTER), OK)
        there = ReplicateConfig()
        there.preferred_segment = other.get_hostname()  # Mooncake's idiom: a store's host:port
        two = ReplicateConfig()
        two.replica_num = 2
        try:
            self.assertEqual(self.store.put(key("on-other"), b"placed there", there), OK)
            self.assertEqual(self.store.put(key("on-own"), b"placed here"), OK)
            self.assertEqual(other.get(key("on-other")), b"placed there")
            # get_replica_desc tells where the copies lie: one on each store for replica_num 2.
            self.assertEqual(self.store.put(key("on-both"), b"both", two), OK)
            own = self.store._pool.get()
            try:
                own_segment = own.client.segment_name
            finally:
                self.store._pool.put(own)
            [on_other] = self.store.get_replica_desc(key("on-other"))
            [on_own] = self.store.get_replica_desc(key("on-own"))
            self.assertEqual(on_other.status, ReplicaStatus.COMPLETE)
            self.assertTrue(on_other.is_memory_replica())
            self.assertFalse(on_other.is_disk_replica())
            self.assertNotEqual(on_other.get_memory_descriptor().buffer_descriptor.transport_endpoint, own_segment)
            self.assertEqual(on_own.get_memory_descriptor().buffer_descriptor.transport_endpoint, own_segment)
            self.assertEqual(on_own.get_memory_descriptor().buffer_descriptor.size, len(b"placed here"))
            both = self.store.batch_get_replica_desc([key("on-both"), key("nowhere")])
            self.assertEqual(list(both), [key("on-both")])
            self.assertEqual({d.get_memory_descriptor().buffer_descriptor.transport_endpoint for d in both[key("on-both")]},
                             {own_segment, on_other.get_memory_descriptor().buffer_descriptor.transport_endpoint})
            self.assertEqual(self.store.get_replica_desc(key("nowhere")), [])
        finally:
            other.close()  # its sidecar, and the copies in its segment, are gone
        # Once the master has let the closed sidecar's node go, its copy is gone; this store's stays.
        deadline = time.monotonic() + DEADLINE_S
        while self.store.get(key("on-other")) != b"" and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.store.get(key("on-other")), b"")
        self.assertEqual(self.store.get(key("on-own")), b"placed here")


@unittest.skipUnless(MASTER and HOME, NO_CLUSTER)
class SoftPinTest(unittest.TestCase):
    """A store of its own master and one small sidecar, so that puts evict."""

    def test_soft_pinned_values_are_evicted_only_after_unpinned_ones(self):
        with small_store(self) as store:
            soft = ReplicateConfig()
            soft.with_soft_pin = True
            pinned, first = os.urandom(256 << 10), os.urandom(256 << 10)
            self.assertEqual(store.put(key("soft"), pinned, soft), OK)  # the oldest: the first to go unpinned
            self.assertEqual(store.put(key("first"), first), OK)
            for i in range(40):  # 10 MiB through a 4 MiB store
                self.assertEqual(store.put(key("filler-%d" % i), bytes([i]) * (256 << 10)), OK, i)
            self.assertEqual(store.get(key("first")), b"")  # evicted
            # (is_exist, not get: a value read stays leased a while by the sidecar's lease cache,
            # and a leased value is never evicted)
            self.assertEqual(store.is_exist(key("soft")), 1)
            self.assertEqual(store.get_size(key("soft")), len(pinned))
            # When every value is soft-pinned, puts go on: the least recent soft-pinned ones go.
            for i in range(40):
                self.assertEqual(store.put(key("soft-filler-%d" % i), bytes([i]) * (256 << 10), soft), OK, i)
            self.assertEqual(store.is_exist(key("soft")), 0)
            self.assertEqual(store.get(key("soft-filler-39")), bytes([39]) * (256 << 10))


if __name__ == "__main__":
    unittest.main()
