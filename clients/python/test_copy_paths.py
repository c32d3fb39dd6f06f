"""Copy paths of ferry.mooncake's put_from / get_into (docs/integration.md): private memory
copied once by the sidecar (process_vm_readv / writev), the fallback through the staging
buffer when the sidecar may not reach it, and the checks that stay on either path.

FERRY_MASTER is the master's host:port and FERRY_HOME a Ferry distribution (./ferry dist):

    FERRY_HOME=target/ferry-dist FERRY_MASTER=127.0.0.1:50051 python3 -m unittest -v test_copy_paths
"""

import ctypes
import glob
import mmap
import os
import tempfile
import unittest

from ferry.mooncake import (BUFFER_OVERFLOW, INVALID_PARAMS, OBJECT_NOT_FOUND, OK, MooncakeDistributedStore,
                            MooncakeHostMemAllocator)

MASTER = os.environ.get("FERRY_MASTER")
HOME = os.environ.get("FERRY_HOME")
RUN = os.urandom(4).hex()


def key(name):
    return "copy-paths/%s/%s" % (RUN, name)


def setup_store(**kwargs):
    store = MooncakeDistributedStore()
    code = store.setup("127.0.0.1", "P2PHANDSHAKE", 32 << 20, 4 << 20, "tcp", "", MASTER, **kwargs)
    assert code == OK, code
    return store


class PrivateBuffer:
    """Private memory of this process (ctypes), registered with a store; close() unregisters it."""

    def __init__(self, store, size):
        self.store, self.size = store, size
        self.buf = ctypes.create_string_buffer(size)
        self.ptr = ctypes.addressof(self.buf)
        assert store.register_buffer(self.ptr, size) == OK

    def write(self, at, data):
        ctypes.memmove(self.ptr + at, data, len(data))

    def read(self, at, n):
        return ctypes.string_at(self.ptr + at, n)

    def close(self):
        self.store.unregister_buffer(self.ptr)


@unittest.skipUnless(MASTER and HOME, "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against")
class ProcessMemoryTest(unittest.TestCase):
    """A sidecar that may reach this process's memory (same user; Yama's scope 1 is allowed by prctl)."""

    @classmethod
    def setUpClass(cls):
        cls.store = setup_store()

    @classmethod
    def tearDownClass(cls):
        cls.store.close()

    def test_private_buffers_round_trip_with_one_copy_by_the_sidecar(self):
        sizes = [1, 4096, 100_000, 3 << 20]  # the last is almost the staging buffer's size
        values = [os.urandom(n) for n in sizes]
        src, dst = PrivateBuffer(self.store, sum(sizes)), PrivateBuffer(self.store, sum(sizes))
        try:
            offsets = [sum(sizes[:i]) for i in range(len(sizes))]
            for at, v in zip(offsets, values):
                src.write(at, v)
            names = [key("private-%d" % n) for n in sizes]
            before = self.store.debug_info()["copy_paths"]
            self.assertEqual(self.store.batch_put_from(names, [src.ptr + at for at in offsets], sizes), [OK] * 4)
            self.assertEqual(self.store.batch_get_into(names, [dst.ptr + at for at in offsets], sizes), sizes)
            self.assertEqual(dst.read(0, sum(sizes)), b"".join(values))
            after = self.store.debug_info()
            self.assertEqual(after["copy_paths"]["process_memory"] - before["process_memory"], 8)  # 4 puts, 4 gets
            self.assertEqual(after["copy_paths"]["staging"], before["staging"])
            self.assertIsNone(after["process_memory_refusal"])
            # One key alone, through put_from / get_into, and what other paths read of it.
            self.assertEqual(self.store.put_from(key("private-one"), src.ptr + 1, 4096), OK)
            self.assertEqual(self.store.get(key("private-one")), values[1])
            self.assertEqual(self.store.get_into(key("private-one"), dst.ptr, 5000), 4096)
            self.assertEqual(dst.read(0, 4096), values[1])
        finally:
            src.close()
            dst.close()

    def test_allocator_memory_takes_one_request_and_the_shared_memory_path(self):
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(1 << 20)
        try:
            self.assertEqual(self.store.register_buffer(ptr, 1 << 20), OK)
            value = os.urandom(300_000)
            ctypes.memmove(ptr, value, len(value))
            before = self.store.debug_info()["copy_paths"]["shared_memory"]
            self.assertEqual(self.store.batch_put_from([key("alloc-a"), key("alloc-b")], [ptr, ptr + 1000],
                                                       [1000, len(value) - 1000]), [OK, OK])
            ctypes.memset(ptr, 0, 1 << 20)
            self.assertEqual(self.store.batch_get_into([key("alloc-b"), key("alloc-a")], [ptr + 1000, ptr],
                                                       [len(value) - 1000, 1000]), [len(value) - 1000, 1000])
            self.assertEqual(ctypes.string_at(ptr, len(value)), value)
            self.assertEqual(self.store.debug_info()["copy_paths"]["shared_memory"] - before, 4)
        finally:
            self.store.unregister_buffer(ptr)
            allocator.free(ptr)

    def test_short_buffers_and_bad_ranges_answer_mooncake_codes(self):
        value = os.urandom(10_000)
        src, dst = PrivateBuffer(self.store, 20_000), PrivateBuffer(self.store, 20_000)
        try:
            src.write(0, value)
            self.assertEqual(self.store.put_from(key("short"), src.ptr, len(value)), OK)
            self.assertEqual(self.store.get_into(key("short"), dst.ptr, len(value) - 1), BUFFER_OVERFLOW)
            self.assertEqual(dst.read(0, len(value)), bytes(len(value)))  # nothing copied
            self.assertEqual(self.store.batch_get_into([key("short"), key("short"), key("absent")],
                                                       [dst.ptr, dst.ptr + 10_000, dst.ptr],
                                                       [1, len(value), 100]),
                             [BUFFER_OVERFLOW, len(value), OBJECT_NOT_FOUND])
            self.assertEqual(dst.read(10_000, len(value)), value)
            self.assertEqual(self.store.get_into(key("short"), dst.ptr + 15_000, len(value)), INVALID_PARAMS)
            self.assertEqual(self.store.put_from(key("empty"), src.ptr, 0), INVALID_PARAMS)
            self.assertEqual(self.store.batch_put_from([key("past-end"), key("fine")], [src.ptr + 19_000, src.ptr],
                                                       [2000, 10]), [INVALID_PARAMS, OK])
            self.assertEqual(self.store.get(key("fine")), value[:10])
        finally:
            src.close()
            dst.close()

    def test_memory_unmapped_while_registered_fails_its_keys_only(self):
        """Memory registered and then unmapped (freed under the store's feet) is never touched
        by this process: the sidecar's copy finds it unmapped and the key fails, alone."""
        value = os.urandom(50_000)
        good = PrivateBuffer(self.store, 100_000)
        gone = mmap.mmap(-1, 1 << 20)
        gone_ptr = ctypes.addressof(ctypes.c_char.from_buffer(gone))
        try:
            good.write(0, value)
            self.assertEqual(self.store.register_buffer(gone_ptr, 1 << 20), OK)
            gone.close()  # munmap: the registration stays, the memory is gone
            self.assertEqual(self.store.batch_put_from([key("gone-0"), key("good-0")], [gone_ptr, good.ptr],
                                                       [len(value), len(value)]), [INVALID_PARAMS, OK])
            self.assertEqual(self.store.get_into(key("gone-0"), good.ptr + 50_000, len(value)), OBJECT_NOT_FOUND)
            self.assertEqual(self.store.batch_get_into([key("good-0"), key("good-0")],
                                                       [gone_ptr, good.ptr + 50_000], [len(value), len(value)]),
                             [INVALID_PARAMS, len(value)])
            self.assertEqual(good.read(50_000, len(value)), value)
        finally:
            self.store.unregister_buffer(gone_ptr)
            good.close()


@unittest.skipUnless(MASTER and HOME, "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against")
class FallbackTest(unittest.TestCase):
    """Where the sidecar may not reach private memory, the same calls go through the staging buffer."""

    def round_trip(self, store):
        values = [os.urandom(n) for n in (7, 70_000, 2 << 20)]
        src, dst = PrivateBuffer(store, 4 << 20), PrivateBuffer(store, 4 << 20)
        try:
            offsets = [0, 100, 200_000]
            for at, v in zip(offsets, values):
                src.write(at, v)
            # fresh names: an earlier test's store (its sidecar gone) may have had the same id()
            names = [key("fallback-%s-%d" % (os.urandom(6).hex(), i)) for i in range(3)]
            sizes = [len(v) for v in values]
            self.assertEqual(store.batch_put_from(names, [src.ptr + at for at in offsets], sizes), [OK] * 3)
            self.assertEqual(store.batch_get_into(names, [dst.ptr + at for at in offsets], sizes), sizes)
            for at, v in zip(offsets, values):
                self.assertEqual(dst.read(at, len(v)), v)
            self.assertEqual(store.get_into(names[1], dst.ptr, 69_999), BUFFER_OVERFLOW)
        finally:
            src.close()
            dst.close()

    def test_a_sidecar_that_refuses_private_memory_is_served_through_the_staging_buffer(self):
        store = setup_store(sidecar_args=["--no-process-memory"])
        try:
            self.round_trip(store)
            info = store.debug_info()
            self.assertEqual(info["copy_paths"]["process_memory"], 0)
            self.assertGreaterEqual(info["copy_paths"]["staging"], 6)
            self.assertIn("NO_PROCESS_ACCESS", info["process_memory_refusal"])
        finally:
            store.close()

    def test_ferry_process_memory_0_keeps_private_memory_on_the_staging_buffer(self):
        saved = os.environ.get("FERRY_PROCESS_MEMORY")
        os.environ["FERRY_PROCESS_MEMORY"] = "0"
        try:
            store = setup_store()
        finally:
            if saved is None:
                del os.environ["FERRY_PROCESS_MEMORY"]
            else:
                os.environ["FERRY_PROCESS_MEMORY"] = saved
        try:
            self.round_trip(store)
            info = store.debug_info()
            self.assertEqual(info["copy_paths"]["process_memory"], 0)
            self.assertGreaterEqual(info["copy_paths"]["staging"], 6)
            self.assertIsNone(info["process_memory_refusal"])  # not asked: nothing refused
        finally:
            store.close()


@unittest.skipUnless(MASTER and HOME, "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against")
class CorruptSlabTest(unittest.TestCase):
    def test_a_corrupt_block_in_the_slab_is_never_copied_to_private_memory(self):
        with tempfile.TemporaryDirectory() as shm:
            store = setup_store(shm_dir=shm, sidecar_args=["--scrub-rate", "0"])
            src, dst = PrivateBuffer(store, 1 << 20), PrivateBuffer(store, 1 << 20)
            try:
                value = os.urandom(200_000)
                src.write(0, value)
                self.assertEqual(store.put_from(key("corrupt"), src.ptr, len(value)), OK)
                slabs = glob.glob(os.path.join(shm, "*.slab"))
                self.assertEqual(len(slabs), 1, slabs)
                with open(slabs[0], "r+b") as f, mmap.mmap(f.fileno(), 0) as slab:
                    at = slab.find(value[:64])
                    self.assertGreaterEqual(at, 0, "the value is in the sidecar's slab")
                    slab[at + 100_000] ^= 0xFF
                self.assertEqual(store.get_into(key("corrupt"), dst.ptr, len(value)), OBJECT_NOT_FOUND)
                self.assertEqual(dst.read(0, len(value)), bytes(len(value)))  # not one byte copied
                self.assertEqual(store.get(key("corrupt")), b"")  # dropped: a miss on every path
            finally:
                src.close()
                dst.close()
                store.close()


if __name__ == "__main__":
    unittest.main()
