"""What Mooncake's own store tests (mooncake-wheel/tests in kvcache-ai/Mooncake) check and
Ferry once answered differently: a setup that failed must be closed before the next one, a
client buffer (local_buffer_size) of 0 bytes holds no value of bytes, and get_hostname()
names a port of Mooncake's range when local_hostname names none. Against a real master and
real sidecars; docs/integration.md says how to run Mooncake's tests themselves.

FERRY_HOME is a Ferry distribution (./ferry dist) and FERRY_MASTER a master's host:port (for
the tests that need one beside small_store's); the tests are skipped without them. Run:
    FERRY_HOME=target/ferry-dist FERRY_MASTER=127.0.0.1:50051 python3 -m unittest -v test_mooncake_conformance
"""

import ctypes
import os
import unittest

from ferry.mooncake import (INVALID_PARAMS, OK, UNAVAILABLE_IN_CURRENT_STATUS, MooncakeDistributedStore,
                            MooncakeHostMemAllocator)
from small_store import small_store

MASTER = os.environ.get("FERRY_MASTER")
HOME = os.environ.get("FERRY_HOME")
RUN = os.urandom(4).hex()  # keys of this run


def key(name):
    return "%s/conformance/%s" % (RUN, name)


@unittest.skipUnless(HOME, "FERRY_HOME is not set: no Ferry distribution to start sidecars from")
class SetupLifecycleTest(unittest.TestCase):
    """Mooncake's test_store_setup_lifecycle: setup after a failed setup needs close() first."""

    @unittest.skipUnless(MASTER, "FERRY_MASTER is not set: no master to set up against")
    def test_a_failed_setup_must_be_closed_before_the_next(self):
        store = MooncakeDistributedStore()
        try:
            self.assertEqual(store.setup({"local_hostname": "127.0.0.1", "global_segment_size": "50%",
                                          "local_buffer_size": "1MB", "master_server_addr": MASTER}),
                             INVALID_PARAMS)
            good = {"local_hostname": "127.0.0.1", "global_segment_size": "4MB", "local_buffer_size": "1MB",
                    "master_server_addr": MASTER}
            self.assertEqual(store.setup(good), UNAVAILABLE_IN_CURRENT_STATUS)
            self.assertEqual(store.setup_dummy(1 << 20, 1 << 20, "/nonexistent/sidecar.sock"),
                             UNAVAILABLE_IN_CURRENT_STATUS)
            self.assertEqual(store.put(key("lifecycle"), b"v"), UNAVAILABLE_IN_CURRENT_STATUS)
            self.assertEqual(store.close(), OK)
            self.assertEqual(store.setup(good), OK)
            self.assertEqual(store.put(key("lifecycle"), b"v"), OK)
            self.assertEqual(store.get(key("lifecycle")), b"v")
        finally:
            store.close()

    def test_a_failed_setup_dummy_must_be_closed_before_the_next(self):
        with small_store(self) as served:
            socket_path = served._sidecar.fields["socket"]
            store = MooncakeDistributedStore()
            try:
                self.assertNotEqual(store.setup_dummy(1 << 20, 1 << 20, "/nonexistent/sidecar.sock"), OK)
                self.assertEqual(store.setup_dummy(1 << 20, 1 << 20, socket_path), UNAVAILABLE_IN_CURRENT_STATUS)
                self.assertEqual(store.close(), OK)
                self.assertEqual(store.setup_dummy(1 << 20, 1 << 20, socket_path), OK)
                self.assertEqual(store.health_check(), OK)
            finally:
                store.close()


@unittest.skipUnless(HOME, "FERRY_HOME is not set: no Ferry distribution to start sidecars from")
class StoreConformanceTest(unittest.TestCase):

    def test_a_client_buffer_of_zero_bytes_holds_no_value_of_bytes(self):
        """Mooncake's TestZeroLocalBufferSize: put fails and stores nothing; registered memory still moves."""
        with small_store(self, local_buffer_size=0) as store:
            self.assertEqual(store.put(key("zero"), b"test_zero_buffer_value"), INVALID_PARAMS)
            self.assertEqual(store.put_batch([key("zero-batch")], [b"v"]), INVALID_PARAMS)
            self.assertEqual(store.upsert(key("zero"), b"v"), INVALID_PARAMS)
            self.assertEqual(store.is_exist(key("zero")), 0)
            self.assertEqual(store.is_exist(key("zero-batch")), 0)
            allocator = MooncakeHostMemAllocator()
            ptr = allocator.alloc(4096)
            self.assertNotEqual(ptr, 0)
            try:
                ctypes.memmove(ptr, b"registered", 10)
                self.assertEqual(store.put_from(key("from"), ptr, 10), OK)
                self.assertEqual(store.is_exist(key("from")), 1)
                ctypes.memset(ptr, 0, 10)
                self.assertEqual(store.get_into(key("from"), ptr, 4096), 10)
                self.assertEqual(ctypes.string_at(ptr, 10), b"registered")
                self.assertEqual(store.get(key("from")), b"")  # a get of bytes needs the client buffer
                self.assertIsNone(store.get_buffer(key("from")))
                self.assertEqual(store.get_batch([key("from")]), [b""])
            finally:
                allocator.free(ptr)

    def test_get_hostname_names_a_port_of_mooncakes_range(self):
        """Mooncake's test_basic_get_hostname: no port in local_hostname, one of 12300..14300."""
        with small_store(self) as store:
            host, _, port = store.get_hostname().rpartition(":")
            self.assertEqual(host, "127.0.0.1")
            self.assertTrue(12300 <= int(port) <= 14300, store.get_hostname())


if __name__ == "__main__":
    unittest.main()
