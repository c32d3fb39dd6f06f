"""Tests of ferry.mooncake (Mooncake Store's Python API) against a real master and real sidecars.

FERRY_MASTER is the master's host:port and FERRY_HOME a Ferry distribution (./ferry dist);
without them every test is skipped. Run:
    FERRY_HOME=target/ferry-dist FERRY_MASTER=127.0.0.1:50051 python3 -m unittest -v test_mooncake
"""

import contextlib
import ctypes
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from ferry import keys, mooncake
from ferry.launcher import FerryNotInstalled
from ferry.mooncake import (BUFFER_OVERFLOW, INVALID_PARAMS, OBJECT_ALREADY_EXISTS, OBJECT_HAS_LEASE,
                            OBJECT_NOT_FOUND, OK, UNAVAILABLE_IN_CURRENT_STATUS, BufferHandle,
                            MooncakeDistributedStore, MooncakeHostMemAllocator, ReplicateConfig, SoftPinAction)
from ferry.sizes import parse_size
from small_store import small_store

MASTER = os.environ.get("FERRY_MASTER")
HOME = os.environ.get("FERRY_HOME")
TOKEN = "mooncake-test-token"
RUN = os.urandom(4).hex()  # keys of this run: a sidecar may have served earlier runs
DEADLINE_S = 30


def key(name):
    return "%s/%s" % (RUN, name)


class SizesTest(unittest.TestCase):
    def test_human_readable_sizes(self):
        self.assertEqual(parse_size("16MB"), 16 << 20)
        self.assertEqual(parse_size("16 MB"), 16 << 20)
        self.assertEqual(parse_size("1GiB"), 1 << 30)
        self.assertEqual(parse_size("1024"), 1024)
        self.assertEqual(parse_size(4096), 4096)
        for bad in ("50%", "-1", "16 XB", "", True, 1.5):
            with self.assertRaises(ValueError, msg=repr(bad)):
                parse_size(bad)

    def test_key_derivation_is_blake2b_and_the_header_names_the_key(self):
        import hashlib
        kb = "é/key".encode("utf-8")
        self.assertEqual(keys.block_key(kb),
                         int.from_bytes(hashlib.blake2b(kb, digest_size=16).digest()[:8], "little"))
        # A sidecar of protocol version 2 takes the whole 128-bit digest.
        self.assertEqual(keys.block_key(kb, 2), hashlib.blake2b(kb, digest_size=16).digest())
        self.assertEqual(keys.block_key(kb, 1), keys.block_key(kb))
        block = keys.header(kb, 3) + b"abc"
        self.assertEqual(keys.value_length(block, kb, len(block)), 3)
        self.assertIsNone(keys.value_length(block, "é/kez".encode("utf-8"), len(block)))
        self.assertIsNone(keys.value_length(block, kb, len(block) + 1))
        self.assertIsNone(keys.value_length(b"\0" * 64, kb))


class InstallTest(unittest.TestCase):
    def test_the_package_installs_offline_into_a_venv(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "src")
            shutil.copytree(os.path.join(here, "ferry"), os.path.join(source, "ferry"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            for name in ("pyproject.toml", "setup.py", "ferry-mooncake.pth", "ferry_client.py"):
                shutil.copy(os.path.join(here, name), source)
            venv = os.path.join(tmp, "venv")
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
            pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--no-index",
                                  "--no-build-isolation", source], capture_output=True, text=True)
            self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
            probe = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                    "import ferry.mooncake, ferry_client; print(ferry.mooncake.__file__)"],
                                   cwd=tmp, capture_output=True, text=True)
            self.assertEqual(probe.returncode, 0, probe.stderr)
            self.assertIn(os.path.join(venv, "lib"), probe.stdout)
            python = os.path.join(venv, "bin", "python")
            self.assertTrue(os.path.isfile(os.path.join(os.path.dirname(probe.stdout.strip()), "..", PTH)))
            aliased = _python(AS_FERRY, {"FERRY_AS_MOONCAKE": "1"}, python=python, cwd=tmp)
            self.assertEqual(aliased.returncode, 0, aliased.stderr)
            self.assertEqual(aliased.stdout.split(), ["True", "True"])
            self.assertIn(os.path.join(venv, "lib"), aliased.stderr)
            plain = _python(AS_FERRY, {}, python=python, cwd=tmp)
            self.assertNotEqual(plain.returncode, 0)
            self.assertIn("No module named 'mooncake'", plain.stderr)


PTH = "ferry-mooncake.pth"
HERE = os.path.dirname(os.path.abspath(__file__))
# Imports mooncake.store the way engines do; prints whether it is Ferry's and whether the
# import of ferry waited for it (the .pth must not load ferry.mooncake at start), and on
# stderr the file of the class's module.
AS_FERRY = """
import sys
lazy = "ferry.mooncake" not in sys.modules
from mooncake.store import MooncakeDistributedStore
import ferry.mooncake
print(MooncakeDistributedStore is ferry.mooncake.MooncakeDistributedStore, lazy)
print(sys.modules[MooncakeDistributedStore.__module__].__file__, file=sys.stderr)
"""


def _python(code, env, python=sys.executable, cwd=None, site_dir=None):
    """Runs code in a fresh interpreter with FERRY_AS_MOONCAKE only as env says; site_dir's .pth files run first."""
    environ = {k: v for k, v in os.environ.items() if k not in ("FERRY_AS_MOONCAKE", "PYTHONPATH")}
    environ.update(env)
    if site_dir is not None:
        code = "import site; site.addsitedir(%r)\n%s" % (site_dir, code)
    return subprocess.run([python, "-c", code], env=environ, cwd=cwd or tempfile.gettempdir(),
                          capture_output=True, text=True, timeout=60)


class AsMooncakeTest(unittest.TestCase):
    """import mooncake.store served by Ferry: install(), FERRY_AS_MOONCAKE and the .pth file (this tree's)."""

    def test_the_variable_makes_mooncake_store_ferrys_through_the_pth_file(self):
        on = _python(AS_FERRY, {"FERRY_AS_MOONCAKE": "1"}, site_dir=HERE)
        self.assertEqual(on.returncode, 0, on.stderr)
        self.assertEqual(on.stdout.split(), ["True", "True"])
        self.assertIn(os.path.join(HERE, "ferry", "mooncake.py"), on.stderr)

    def test_without_the_variable_mooncake_stays_missing_and_ferry_unloaded(self):
        for env in ({}, {"FERRY_AS_MOONCAKE": ""}, {"FERRY_AS_MOONCAKE": "0"}, {"FERRY_AS_MOONCAKE": "false"}):
            off = _python("import sys\nprint('ferry.mooncake' in sys.modules)\n" + AS_FERRY, env, site_dir=HERE)
            self.assertNotEqual(off.returncode, 0, env)
            self.assertEqual(off.stdout.split(), ["False"], env)
            self.assertIn("ModuleNotFoundError: No module named 'mooncake'", off.stderr, env)

    def test_install_answers_true_and_only_store_is_provided(self):
        code = ("import ferry.mooncake, sys\n"
                "first, again = ferry.mooncake.install(), ferry.mooncake.install()\n"
                "import mooncake.store, mooncake\n"
                "print(first, again, mooncake.store is ferry.mooncake, sys.meta_path[-1].__class__.__name__,\n"
                "      sum(type(f) is type(sys.meta_path[-1]) for f in sys.meta_path))\n"
                "import mooncake.engine\n")
        run = _python(code, {"PYTHONPATH": HERE})
        self.assertEqual(run.stdout.split(), ["True", "True", "True", "_FerryMooncakeFinder", "1"], run.stderr)
        self.assertIn("No module named 'mooncake.engine'", run.stderr)

    def test_a_real_mooncake_is_never_shadowed(self):
        with tempfile.TemporaryDirectory() as real:
            os.makedirs(os.path.join(real, "mooncake"))
            with open(os.path.join(real, "mooncake", "__init__.py"), "w") as f:
                f.write("")
            with open(os.path.join(real, "mooncake", "store.py"), "w") as f:
                f.write("class MooncakeDistributedStore:\n    pass\n")
            path = os.pathsep.join([HERE, real])
            code = ("import ferry.mooncake\nprint(ferry.mooncake.install(), ferry.alias.installed())\n"
                    "from mooncake.store import MooncakeDistributedStore\n"
                    "print(MooncakeDistributedStore is ferry.mooncake.MooncakeDistributedStore)\n")
            called = _python(code, {"PYTHONPATH": path})
            self.assertEqual(called.stdout.split(), ["False", "False", "False"], called.stderr)
            by_variable = _python(AS_FERRY, {"FERRY_AS_MOONCAKE": "1", "PYTHONPATH": path}, site_dir=HERE)
            self.assertEqual(by_variable.returncode, 0, by_variable.stderr)
            self.assertEqual(by_variable.stdout.split(), ["False", "True"])
            self.assertIn(os.path.join(real, "mooncake", "store.py"), by_variable.stderr)
            self.assertIn("a real mooncake package is installed", by_variable.stderr)


class BenchPercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        from ferry.bench import percentile
        self.assertEqual(percentile([3.0], 0.99), 3.0)
        self.assertEqual(percentile([4.0, 1.0], 0.5), 1.0)
        self.assertEqual(percentile(list(range(1, 101)), 0.5), 50)
        self.assertEqual(percentile(list(range(1, 101)), 0.99), 99)
        self.assertEqual(percentile(list(range(1, 101)), 1.0), 100)

    def test_the_calls_take_the_windows_of_their_regions_in_turn(self):
        from ferry.bench import windows
        self.assertEqual(windows(256 << 20, 8 << 20), 32)
        self.assertEqual(windows(3 << 20, 2 << 20), 1)  # rounded down to whole windows
        self.assertEqual(windows(0, 64 << 10), 1)  # one window, used again and again
        from ferry.bench import _Memory
        memory = _Memory("allocator", None, 4096, 3, b"\x5a" * 4096)
        try:
            self.assertEqual([memory.window(it) for it in range(4)],
                             [(memory.src + at, memory.dst + at) for at in (0, 4096, 8192, 0)])
            self.assertEqual(ctypes.string_at(memory.src + 8192, 4096), b"\x5a" * 4096)
            self.assertEqual(ctypes.string_at(memory.dst, 3 * 4096), bytes(3 * 4096))
        finally:
            memory.close()


@unittest.skipUnless(MASTER and HOME, "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against")
class BenchTest(unittest.TestCase):
    def test_the_benchmark_runs_and_checks_its_bytes(self):
        from ferry import bench
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = bench.main(["--master", MASTER, "--sizes", "4KiB,64KiB", "--batch", "2", "--iterations", "3",
                               "--warmup", "1", "--warmup-seconds", "0", "--region", "256KiB", "--segment", "16MiB",
                               "--local-buffer", "1MiB"])
        self.assertEqual(code, 0, out.getvalue())
        lines = out.getvalue().splitlines()
        self.assertIn("3 iterations after 1 untimed and 0s, regions of 256KiB, load average", lines[0])
        for op, memory in (("batch_put_from", "allocator"), ("batch_get_into", "allocator"),
                           ("batch_put_from", "private"), ("batch_get_into", "private"),
                           ("ctypes.memmove", "-"), ("zlib.crc32", "-"), ("copy+crc32c", "java")):
            for size in ("4KiB", "64KiB"):
                self.assertEqual(sum(1 for ln in lines if ln.split()[:3] == [op, memory, size]), 1,
                                 "%s %s %s in:\n%s" % (op, memory, size, out.getvalue()))
        self.assertNotIn("FAILED", out.getvalue())
        for ln in lines:  # the batch calls are set beside the Java baseline of the same run
            if ln.startswith("batch_"):
                self.assertRegex(ln, r" [0-9.]+x copy\+crc32c$")

    def test_the_untimed_calls_last_the_warm_up_seconds(self):
        from ferry import bench
        out = io.StringIO()
        started = time.monotonic()
        with contextlib.redirect_stdout(out):
            code = bench.main(["--master", MASTER, "--sizes", "4KiB", "--batch", "1", "--iterations", "1",
                               "--warmup", "0", "--warmup-seconds", "0.5", "--region", "0", "--segment", "16MiB",
                               "--local-buffer", "1MiB"])
        self.assertEqual(code, 0, out.getvalue())
        # each memory kind calls for half a second before its one timed call
        self.assertGreaterEqual(time.monotonic() - started, 1.0)
        self.assertIn("1 iterations after 0 untimed and 0.5s", out.getvalue())

    def test_the_breakdown_says_where_each_calls_time_went(self):
        from ferry import bench
        with socket.socket() as s:  # a free port for the sidecar's /metrics
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = bench.main(["--master", MASTER, "--sizes", "64KiB", "--batch", "2", "--iterations", "2",
                               "--warmup", "1", "--warmup-seconds", "0", "--region", "0", "--segment", "16MiB",
                               "--local-buffer", "1MiB", "--breakdown", "127.0.0.1:%d" % port])
        self.assertEqual(code, 0, out.getvalue())
        text = out.getvalue()
        # allocator puts are PUT_NAMED, private ones PUT_FROM, both gets GET_INTO: two timed calls each
        for op in ("put_named", "put_from", "get_into"):
            self.assertRegex(text, r"  %s +x2: client send [0-9.]+, wait [0-9.]+ \(sidecar: queued [0-9.]+, served "
                                   r"[0-9.]+, answer sent [0-9.]+\), read [0-9.]+ ms" % op)
        # one call of the master per put: its sidecar puts into space granted ahead
        self.assertRegex(text, r"master calls per batch \(count x ms each\): .*put_granted 1\.0 x [0-9.]+ ms")

    def test_bad_arguments_are_refused_before_anything_starts(self):
        from ferry import bench
        for argv in (["--master", MASTER, "--sizes", "50%"], ["--master", MASTER, "--batch", "0"],
                     ["--master", MASTER, "--region", "lots"], ["--master", MASTER, "--warmup", "-1"],
                     ["--master", MASTER, "--warmup-seconds", "-1"], ["--master", MASTER, "--warmup-seconds", "nan"]):
            with self.assertRaises(SystemExit) as raised, contextlib.redirect_stderr(io.StringIO()):
                bench.main(argv)
            self.assertEqual(raised.exception.code, 2, argv)


@unittest.skipUnless(MASTER and HOME, "FERRY_MASTER and FERRY_HOME are not set: no cluster to test against")
class HardPinTest(unittest.TestCase):
    """A store of its own master and one small sidecar, so that puts evict."""

    def test_a_hard_pinned_value_survives_the_eviction_of_unpinned_ones(self):
        with small_store(self) as store:
            pin = ReplicateConfig()
            pin.with_hard_pin = True
            pinned, first = os.urandom(256 << 10), os.urandom(256 << 10)
            self.assertEqual(store.put(key("pinned"), pinned, pin), OK)
            self.assertEqual(store.put(key("first"), first), OK)
            for i in range(40):  # 10 MiB through a 4 MiB store
                self.assertEqual(store.put(key("filler-%d" % i), bytes([i]) * (256 << 10)), OK, i)
            self.assertEqual(store.get(key("first")), b"")  # evicted
            self.assertEqual(store.get(key("pinned")), pinned)
            self.assertGreater(store.remove_all(), 0)  # the fillers that fit
            self.assertEqual(store.is_exist(key("pinned")), 1)
            self.assertEqual(store.remove_all(force=True), 1)
            self.assertEqual(store.is_exist(key("pinned")), 0)


class MooncakeStoreTest(unittest.TestCase):
    store = None

    @classmethod
    def setUpClass(cls):
        cls.store = MooncakeDistributedStore()
        code = cls.store.setup("127.0.0.1", "P2PHANDSHAKE", 64 << 20, 1 << 20, "tcp", "", MASTER,
                               sidecar_args=["--tcp", "127.0.0.1:0", "--token", TOKEN])
        assert code == OK, code
        fields = cls.store._sidecar.fields
        cls.socket, cls.tcp = fields["socket"], "127.0.0.1:" + fields["tcp"]

    @classmethod
    def tearDownClass(cls):
        cls.store.close()

    # --- setup ------------------------------------------------------------------------

    def test_setup_twice_is_refused_and_health_and_hostname_answer(self):
        self.assertEqual(self.store.setup("127.0.0.1", "", 1 << 20, 1 << 20, "tcp", "", MASTER),
                         UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(self.store.health_check(), OK)
        # Mooncake's form, host:port: the sidecar's data address, what preferred_segment takes.
        host, _, port = self.store.get_hostname().rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.assertTrue(port.isdigit(), self.store.get_hostname())

    def test_setup_refuses_bad_sizes_and_addresses_without_starting_anything(self):
        store = MooncakeDistributedStore()
        self.assertEqual(store.setup({"local_hostname": "127.0.0.1", "global_segment_size": "50%",
                                      "master_server_address": MASTER}), INVALID_PARAMS)
        store.close()  # a failed setup must be closed before the next (test_mooncake_conformance)
        self.assertEqual(store.setup("127.0.0.1", "", 0, 1 << 20, "tcp", "", MASTER), INVALID_PARAMS)
        store.close()
        self.assertEqual(store.setup("127.0.0.1", "", 1 << 20, 1 << 20, "tcp", "", "no-port"), INVALID_PARAMS)
        store.close()
        self.assertEqual(store.setup("127.0.0.1", "", 1 << 20, 1 << 20, "tcp", "", MASTER, bogus=1),
                         INVALID_PARAMS)
        self.assertEqual(store.put(key("x"), b"x"), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(store.get(key("x")), b"")

    def test_a_missing_distribution_is_named(self):
        saved = os.environ.get("FERRY_HOME")
        with tempfile.TemporaryDirectory() as empty:
            os.environ["FERRY_HOME"] = empty
            try:
                with self.assertRaises(FerryNotInstalled) as caught:
                    MooncakeDistributedStore().setup("127.0.0.1", "", 1 << 20, 1 << 20, "tcp", "", MASTER)
                self.assertIn("./ferry dist", str(caught.exception))
            finally:
                os.environ["FERRY_HOME"] = saved

    def test_setup_with_a_config_dict_contributes_its_segment_and_shares_the_cluster(self):
        other = MooncakeDistributedStore()
        self.assertEqual(other.setup({"local_hostname": "127.0.0.1", "metadata_server": "P2PHANDSHAKE",
                                      "global_segment_size": "16 MB", "local_buffer_size": "1MiB",
                                      "protocol": "rdma", "rdma_devices": "mlx5_0", "mooncake_only": 1,
                                      "master_server_address": MASTER}), OK)
        try:
            self.assertEqual(other.put(key("from-other"), b"other bytes"), OK)
            self.assertEqual(self.store.get(key("from-other")), b"other bytes")
            self.assertEqual(self.store.put(key("from-main"), b"main bytes"), OK)
            self.assertEqual(other.get(key("from-main")), b"main bytes")
            # A block read through the sidecar of its node stays leased a while (the lease cache):
            # a remove through another sidecar answers OBJECT_HAS_LEASE, and with force waits it out.
            leased = [key("leased-%d" % i) for i in range(4)]
            self.assertEqual(other.put_batch(leased, [b"held"] * 4), OK)
            self.assertEqual(other.get_batch(leased) + self.store.get_batch(leased), [b"held"] * 8)
            codes = [self.store.remove(k) for k in leased]
            self.assertTrue(set(codes) <= {OK, OBJECT_HAS_LEASE}, codes)
            self.assertIn(OBJECT_HAS_LEASE, codes)
            self.assertEqual([self.store.remove(k, force=True) for k, c in zip(leased, codes) if c != OK],
                             [OK] * codes.count(OBJECT_HAS_LEASE))
            self.assertEqual(other.get_batch(leased), [b""] * 4)
        finally:
            self.assertEqual(other.close(), OK)
        self.assertEqual(other.health_check(), UNAVAILABLE_IN_CURRENT_STATUS)
        self.assertEqual(other.close(), OK)

    def test_setup_dummy_joins_a_running_sidecar_by_socket_and_by_tcp(self):
        self.assertEqual(self.store.put(key("dummy"), b"seen by all"), OK)
        for address, extra in ((self.socket, {}), (self.tcp, {"token": TOKEN})):
            dummy = MooncakeDistributedStore()
            self.assertEqual(dummy.setup_dummy(1 << 20, 1 << 20, address, **extra), OK, address)
            try:
                self.assertEqual(dummy.get(key("dummy")), b"seen by all")
                value = os.urandom(3 << 20)  # larger than the staging buffer
                self.assertEqual(dummy.put(key("dummy-big-" + address), value), OK)
                self.assertEqual(self.store.get(key("dummy-big-" + address)), value)
                self.assertEqual(dummy.get_size(key("dummy")), 11)
                self.assertEqual(dummy.is_exist(key("nothing")), 0)
                if extra:  # over TCP a value travels in one frame (--max-frame, 16 MiB by default)
                    self.assertEqual(dummy.put(key("too-big"), bytes(17 << 20)), INVALID_PARAMS)
                    self.assertEqual(dummy.get(key("dummy")), b"seen by all")
            finally:
                dummy.close()
        self.assertNotEqual(MooncakeDistributedStore().setup_dummy(1 << 20, 1 << 20, "/nonexistent/sock"), OK)

    # --- bytes --------------------------------------------------------------------------

    def test_put_get_and_their_codes(self):
        k = key("plain")
        self.assertEqual(self.store.put(k, b"value one"), OK)
        self.assertEqual(self.store.get(k), b"value one")
        self.assertEqual(self.store.put(k, b"value two"), OK)  # Mooncake's put keeps the first value
        self.assertEqual(self.store.get(k), b"value one")
        self.assertEqual(self.store.get(key("missing")), b"")
        self.assertEqual(self.store.put(k, b""), INVALID_PARAMS)
        self.assertEqual(self.store.put("", b"x"), INVALID_PARAMS)
        for call in (lambda: self.store.put(b"bytes key", b"x"), lambda: self.store.put(k, "not bytes"),
                     lambda: self.store.put_parts(k, b"x", 7), lambda: self.store.put_batch([k], ["str"])):
            with self.assertRaises(TypeError):  # as Mooncake's binding: a key is a str, a value a buffer
                call()
        self.assertEqual(self.store.get(k), b"value one")
        config = ReplicateConfig()
        config.replica_num = 0
        self.assertEqual(self.store.put(key("cfg"), b"x", config), INVALID_PARAMS)
        config.replica_num = 1
        config.soft_pin_action = 7
        self.assertEqual(self.store.put(key("cfg"), b"x", config), INVALID_PARAMS)
        config.soft_pin_action = SoftPinAction.ENABLE
        config.with_soft_pin = True
        self.assertEqual(self.store.put(key("cfg"), b"x", config), OK)
        self.assertEqual(self.store.get(key("cfg")), b"x")

    def test_values_of_any_length(self):
        for n in (1, 4095, 1 << 20, (3 << 20) + 7):
            value = os.urandom(n)
            self.assertEqual(self.store.put(key("len-%d" % n), value), OK)
            self.assertEqual(self.store.get(key("len-%d" % n)), value)
            self.assertEqual(self.store.get_size(key("len-%d" % n)), n)

    def test_batches_parts_and_upsert(self):
        ks = [key("batch-%d" % i) for i in range(5)]
        values = [os.urandom(100 + i) for i in range(5)]
        self.assertEqual(self.store.put_batch(ks, values), OK)
        self.assertEqual(self.store.get_batch(ks + [key("none")]), values + [b""])
        self.assertEqual(self.store.put_batch(ks, values[:2]), INVALID_PARAMS)
        self.assertEqual(self.store.batch_is_exist(ks[:2] + [key("none")]), [1, 1, 0])
        self.assertEqual(self.store.batch_is_exist([key("none"), ks[0], ks[0]]), [0, 1, 1])
        self.assertEqual(self.store.batch_is_exist([]), [])
        self.assertEqual(self.store.batch_is_exist([key("x" * 600000), ks[1]]), [0, 1])
        self.assertEqual(self.store.put_parts(key("parts"), b"ab", memoryview(b"cd"), bytearray(b"ef")), OK)
        self.assertEqual(self.store.get(key("parts")), b"abcdef")
        self.assertEqual(self.store.upsert(ks[0], b"replaced"), OK)
        self.assertEqual(self.store.get(ks[0]), b"replaced")
        self.assertEqual(self.store.upsert(key("fresh-upsert"), b"new"), OK)
        self.assertEqual(self.store.upsert_batch(ks[1:3], [b"one", b"two"]), OK)
        self.assertEqual(self.store.get_batch(ks[1:3]), [b"one", b"two"])
        self.assertEqual(self.store.upsert_batch(ks[1:3], [b"one"]), INVALID_PARAMS)

    def test_batches_larger_than_the_staging_buffer_and_mixed_sizes(self):
        big = os.urandom(700 * 1024)  # more than a third of the 1 MiB staging buffer: read one by one
        ks = [key("mixed-small"), key("mixed-big"), key("mixed-none")]
        self.assertEqual(self.store.put_batch(ks[:2], [b"small", big]), OK)
        self.assertEqual(self.store.get_batch(ks), [b"small", big, b""])
        handles = self.store.batch_get_buffer(ks)
        self.assertEqual([bytes(h) if h is not None else None for h in handles], [b"small", big, None])
        huge = [os.urandom(600 * 1024), os.urandom(600 * 1024)]  # together more than the staging buffer
        self.assertEqual(self.store.put_batch([key("huge-0"), key("huge-1")], huge), OK)
        self.assertEqual(self.store.get_batch([key("huge-1"), key("huge-0")]), huge[::-1])
        self.assertEqual(self.store.put_batch([key("bad-0"), key("bad-1")], [b"x", b""]), INVALID_PARAMS)
        self.assertEqual(self.store.is_exist(key("bad-0")), 0)  # a refused batch stores nothing

    def test_batch_get_into_answers_per_key(self):
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(1 << 20)
        try:
            self.assertEqual(self.store.put_batch([key("into-0"), key("into-1")], [b"zero", b"one!"]), OK)
            private = ctypes.create_string_buffer(16)  # not registered
            self.assertEqual(self.store.batch_get_into(
                [key("into-0"), key("into-1"), key("into-1"), key("into-none"), key("into-0")],
                [ptr, ptr + 100, ctypes.addressof(private), ptr + 200, ptr + 300], [100, 100, 16, 100, 3]),
                [4, 4, INVALID_PARAMS, OBJECT_NOT_FOUND, BUFFER_OVERFLOW])
            self.assertEqual(ctypes.string_at(ptr, 4) + ctypes.string_at(ptr + 100, 4), b"zeroone!")
        finally:
            allocator.free(ptr)

    def test_remove_and_sizes(self):
        k = key("removed")
        self.assertEqual(self.store.put(k, b"12345"), OK)
        self.assertEqual(self.store.get_size(k), 5)
        self.assertEqual(self.store.is_exist(k), 1)
        self.assertEqual(self.store.remove(k), OK)
        self.assertEqual(self.store.remove(k), OBJECT_NOT_FOUND)
        self.assertEqual(self.store.get_size(k), OBJECT_NOT_FOUND)
        self.assertEqual(self.store.is_exist(k), 0)
        self.assertEqual(self.store.get(k), b"")
        self.assertEqual(self.store.put_batch([key("r1"), key("r2")], [b"1", b"2"]), OK)
        self.assertEqual(self.store.batch_remove([key("r1"), key("r2"), key("r3")], force=True),
                         [OK, OK, OBJECT_NOT_FOUND])

    def test_remove_all_empties_the_shared_store_and_counts(self):
        names = [key("all-%d" % i) for i in range(3)]
        self.assertEqual(self.store.put_batch(names, [b"a", b"bb", b"ccc"]), OK)
        self.assertEqual(self.store.get(names[1]), b"bb")  # held a while by the sidecar's lease cache
        removed = self.store.remove_all()
        self.assertGreaterEqual(removed, 3)  # every client's objects: other tests' too
        self.assertEqual(self.store.batch_is_exist(names), [0, 0, 0])
        self.assertEqual(self.store.remove_all(force=True), 0)
        self.assertEqual(self.store.put(names[0], b"again"), OK)
        self.assertEqual(self.store.remove_all(True), 1)
        self.assertEqual(MooncakeDistributedStore().remove_all(), UNAVAILABLE_IN_CURRENT_STATUS)

    def test_replica_num_2_puts_a_copy_on_each_of_two_sidecars(self):
        other = MooncakeDistributedStore()
        self.assertEqual(other.setup("127.0.0.1", "P2PHANDSHAKE", 16 << 20, 1 << 20, "tcp", "", MASTER), OK)
        two = ReplicateConfig()
        two.replica_num = 2
        values = {name: os.urandom(100_000) for name in ("rep-2", "rep-2-from", "rep-1")}
        src = MooncakeHostMemAllocator()
        ptr = src.alloc(100_000)
        try:
            ctypes.memmove(ptr, values["rep-2-from"], 100_000)
            self.assertEqual(other.put(key("rep-2"), values["rep-2"], two), OK)
            self.assertEqual(other.put_from(key("rep-2-from"), ptr, 100_000, two), OK)
            self.assertEqual(other.put(key("rep-1"), values["rep-1"]), OK)  # one copy, on its own node
            bad = ReplicateConfig()
            bad.replica_num = 0
            self.assertEqual(other.put(key("rep-0"), b"x", bad), INVALID_PARAMS)
        finally:
            src.free(ptr)
            other.close()  # its sidecar and the copies in its segment are gone
        self.assertEqual(self.store.get(key("rep-2")), values["rep-2"])  # the copy on this sidecar's node
        self.assertEqual(self.store.get(key("rep-2-from")), values["rep-2-from"])
        self.assertEqual(self.store.get(key("rep-1")), b"")  # its only copy went with the other sidecar

    def test_string_keys_long_unicode_and_with_nul(self):
        for k in (key("x" * 10000), key("ключ/模型/🚀"), key("a\0b"), key("a\0c")):
            self.assertEqual(self.store.put(k, k.encode("utf-8")[-50:]), OK, k[:40])
        for k in (key("x" * 10000), key("ключ/模型/🚀"), key("a\0b"), key("a\0c")):
            self.assertEqual(self.store.get(k), k.encode("utf-8")[-50:], k[:40])
        self.assertEqual(self.store.get(key("x" * 9999)), b"")
        too_long = "k" * (1 << 20)  # its header does not fit the 1 MiB staging buffer
        self.assertEqual(self.store.put(too_long, b"x"), INVALID_PARAMS)
        self.assertEqual(self.store.get(too_long), b"")
        self.assertEqual(self.store.get_size(too_long), INVALID_PARAMS)

    def test_a_string_key_is_stored_under_its_whole_128_bit_digest(self):
        from ferry_client import FerryClient
        k = key("wide-digest")
        kb = k.encode("utf-8")
        self.assertEqual(self.store.put(k, b"value"), OK)
        with FerryClient(self.socket) as ferry, FerryClient(self.socket, max_version=1) as old:
            self.assertEqual(ferry.version, 3)
            self.assertEqual(ferry.exists([keys.block_key(kb, 2)]), [True])
            # Its 64-bit derivation (what a sidecar of version 1 took) names no block here.
            self.assertEqual(old.version, 1)
            self.assertEqual(old.exists([keys.block_key(kb, 1)]), [False])
        self.assertEqual(self.store.get(k), b"value")

    def test_a_forced_collision_is_a_miss_never_the_other_keys_bytes_in_every_protocol_version(self):
        # Version 3: the sidecar stores each string key with its value and compares it on every
        # hit; versions 1 and 2 (sidecars of earlier builds): this client does.
        for version in (3, 2, 1):
            with self.subTest(version=version):
                self._forced_collision(version)

    def _forced_collision(self, version):
        forced = int.from_bytes(os.urandom(8), "little")  # the digest hook: every key on one block key
        colliding = MooncakeDistributedStore(block_key=lambda key_bytes: forced)
        self.assertEqual(colliding.setup_dummy(1 << 20, 1 << 20, self.socket, protocol_version=version), OK)
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(4096)
        try:
            a, b = key("collide-a-%d" % version), key("collide-b-%d" % version)
            self.assertEqual(colliding.put(a, b"bytes of a"), OK)
            self.assertEqual(colliding.get(a), b"bytes of a")
            self.assertEqual(colliding.get(b), b"")
            self.assertIsNone(colliding.get_buffer(b))
            self.assertEqual(colliding.is_exist(b), 0)
            self.assertEqual(colliding.get_size(b), OBJECT_NOT_FOUND)
            self.assertEqual(colliding.put(b, b"bytes of b"), OBJECT_ALREADY_EXISTS)
            self.assertEqual(colliding.upsert(b, b"bytes of b"), OBJECT_ALREADY_EXISTS)
            self.assertEqual(colliding.remove(b), OBJECT_NOT_FOUND)
            self.assertEqual(colliding.get(a), b"bytes of a")  # b's remove left a alone
            self.assertEqual(colliding.key_mismatches, 7)
            self.assertEqual(colliding.get_batch([a, b]), [b"bytes of a", b""])
            self.assertEqual(colliding.batch_is_exist([a, b]), [1, 0])
            self.assertEqual(colliding.put_batch([a, b], [b"again a", b"bytes of b"]), OBJECT_ALREADY_EXISTS)
            self.assertEqual(colliding.get(a), b"bytes of a")
            self.assertEqual(colliding.key_mismatches, 10)
            # In place from the allocator's memory, and into it: b never lands on a's block.
            ctypes.memmove(ptr, b"in place b", 10)
            self.assertEqual(colliding.put_from(b, ptr, 10), OBJECT_ALREADY_EXISTS)
            self.assertEqual(colliding.get_into(b, ptr + 1024, 1024), OBJECT_NOT_FOUND)
            self.assertEqual(ctypes.string_at(ptr + 1024, 16), bytes(16))
            self.assertEqual(colliding.key_mismatches, 12)
            if version >= 3:  # the sidecar itself refuses b's bytes for a's block, and zeroes what it read
                from ferry_client import MISMATCH as SIDECAR_MISMATCH, FerryClient, MemfdBuffer
                with FerryClient(self.socket) as ferry, MemfdBuffer(4096) as buf:
                    buf_id = ferry.register_buffer(buf)
                    lengths, _ = ferry.get_named([(forced, b.encode("utf-8"), buf_id, 0, 4096)])
                    self.assertEqual(lengths, [SIDECAR_MISMATCH])
                    self.assertEqual(bytes(buf.view[0:64]), bytes(64))
                    self.assertEqual(ferry.put_named([(forced, b.encode("utf-8"), buf_id, 0, 5)]), [2])
            self.assertEqual(colliding.remove(a), OK)
            self.assertEqual(colliding.put(b, b"bytes of b"), OK)
            self.assertEqual(colliding.get(a), b"")
            self.assertEqual(colliding.remove(b), OK)
        finally:
            allocator.free(ptr)
            colliding.close()

    # --- registered memory --------------------------------------------------------------

    def test_put_from_and_get_into_host_memory_of_the_allocator(self):
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(8 << 20)
        try:
            self.assertEqual(self.store.register_buffer(ptr, 8 << 20), OK)
            value = os.urandom((2 << 20) + 3)
            ctypes.memmove(ptr, value, len(value))
            self.assertEqual(self.store.put_from(key("alloc"), ptr, len(value)), OK)
            self.assertEqual(self.store.get(key("alloc")), value)
            dst = ptr + (2 << 20) + 4096
            self.assertEqual(self.store.get_into(key("alloc"), dst, len(value)), len(value))
            self.assertEqual(ctypes.string_at(dst, len(value)), value)
            self.assertEqual(self.store.get_into(key("alloc"), dst, len(value) - 1), BUFFER_OVERFLOW)
            self.assertEqual(self.store.get_into(key("none"), dst, 100), OBJECT_NOT_FOUND)
            ctypes.memmove(ptr, b"A" * 10 + b"B" * 20, 30)
            self.assertEqual(self.store.batch_put_from([key("p1"), key("p2")], [ptr, ptr + 10], [10, 20]), [OK, OK])
            self.assertEqual(self.store.batch_get_into([key("p2"), key("p1"), key("none")],
                                                       [dst, dst + 100, dst + 200], [100, 100, 100]),
                             [20, 10, OBJECT_NOT_FOUND])
            self.assertEqual(ctypes.string_at(dst, 20), b"B" * 20)
            self.assertEqual(ctypes.string_at(dst + 100, 10), b"A" * 10)
            self.assertEqual(self.store.unregister_buffer(ptr), OK)
        finally:
            self.assertEqual(allocator.free(ptr), OK)
        self.assertEqual(allocator.free(ptr), INVALID_PARAMS)
        # The address may come back for another allocation: its bytes, never the freed memfd's, are stored.
        ptr2 = allocator.alloc(4 << 20)
        try:
            ctypes.memmove(ptr2, b"C" * 64, 64)
            self.assertEqual(self.store.put_from(key("alloc-again"), ptr2, 64), OK)
            self.assertEqual(self.store.get(key("alloc-again")), b"C" * 64)
        finally:
            allocator.free(ptr2)

    def test_batch_put_from_allocator_memory_new_stored_and_colliding_keys_in_one_batch(self):
        forced = int.from_bytes(os.urandom(8), "little")
        colliding = MooncakeDistributedStore(
            block_key=lambda kb: forced if kb.endswith(b"/collide") else keys.block_key(kb, 2))  # this build's sidecar: 2
        self.assertEqual(colliding.setup_dummy(1 << 20, 1 << 20, self.socket), OK)
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(4 << 20)
        try:
            values = [os.urandom(n) for n in (1 << 20, 5, 3000, 10, 64 << 10, 7)]
            at, ptrs = ptr, []
            for v in values:
                ctypes.memmove(at, v, len(v))
                ptrs.append(at)
                at += len(v)
            names = [key("bf-new1"), key("bf-there"), key("bf-new2"), key("b/collide")]
            self.assertEqual(colliding.put(names[1], b"first"), OK)  # same length: PUT_START answers 1
            self.assertEqual(colliding.put(key("a/collide"), b"value of a"), OK)
            self.assertEqual(colliding.batch_put_from(names, ptrs[:4], [len(v) for v in values[:4]]),
                             [OK, OK, OK, OBJECT_ALREADY_EXISTS])
            self.assertEqual([colliding.get(n) for n in names],
                             [values[0], b"first", values[2], b""])
            self.assertEqual(colliding.get(key("a/collide")), b"value of a")
            # A key stored with another length refuses the whole PUT_START: key by key instead.
            more = [key("bf-new3"), names[1], key("bf-new4")]
            self.assertEqual(colliding.batch_put_from(more, ptrs[3:], [len(v) for v in values[3:]]), [OK, OK, OK])
            self.assertEqual([colliding.get(n) for n in more], [values[3], b"first", values[5]])
            self.assertEqual(self.store.get(names[0]), values[0])  # visible to other connections
        finally:
            colliding.close()
            allocator.free(ptr)

    def test_an_error_mid_batch_put_from_aborts_what_it_started_and_keeps_what_was_there(self):
        single = MooncakeDistributedStore()  # one connection: the test can reach its buffer ids
        self.assertEqual(single.setup_dummy(1 << 20, 1 << 20, self.socket), OK)
        allocator = MooncakeHostMemAllocator()
        ptr = allocator.alloc(1 << 20)
        try:
            ctypes.memmove(ptr, b"x" * 300, 300)
            there, fresh = key("mid-there"), [key("mid-new1"), key("mid-new2")]
            self.assertEqual(single.put_from(there, ptr, 100), OK)  # registers the allocation's memfd
            conn = single._pool.queue[0]
            (serial, (_, buffer_id)), = conn.memfd_ids.items()
            conn.client.unregister_buffer(buffer_id)  # the sidecar no longer knows the id: WRITE_RANGE fails
            ctypes.memmove(ptr, b"y" * 300, 300)
            codes = single.batch_put_from([fresh[0], there, fresh[1]], [ptr, ptr + 100, ptr + 200], [100, 100, 100])
            self.assertEqual(len(set(codes)), 1)
            self.assertLess(codes[0], 0)
            self.assertEqual(single.batch_is_exist(fresh + [there]), [0, 0, 1])
            self.assertEqual(single.get(there), b"x" * 100)
            del conn.memfd_ids[serial]  # registered again on next use
            # The started blocks were aborted, not left pending: the same keys are stored now.
            self.assertEqual(single.batch_put_from(fresh, [ptr, ptr + 200], [100, 100]), [OK, OK])
            self.assertEqual([self.store.get(k) for k in fresh], [b"y" * 100, b"y" * 100])
        finally:
            single.close()
            allocator.free(ptr)

    def test_private_memory_goes_through_the_staging_buffer(self):
        src = ctypes.create_string_buffer(os.urandom(5000), 5000)
        dst = ctypes.create_string_buffer(8000)
        src_ptr, dst_ptr = ctypes.addressof(src), ctypes.addressof(dst)
        self.assertEqual(self.store.put_from(key("private"), src_ptr, 5000), INVALID_PARAMS)  # not registered
        self.assertEqual(self.store.register_buffer(src_ptr, 5000), OK)
        self.assertEqual(self.store.register_buffer(src_ptr + 100, 10), INVALID_PARAMS)  # overlaps
        self.assertEqual(self.store.register_buffer(dst_ptr, 8000), OK)
        try:
            self.assertEqual(self.store.put_from(key("private"), src_ptr, 5000), OK)
            self.assertEqual(self.store.get_into(key("private"), dst_ptr, 8000), 5000)
            self.assertEqual(dst.raw[:5000], src.raw)
            self.assertEqual(self.store.batch_put_from([key("priv-0"), key("priv-1"), key("priv-2"), key("private")],
                                                       [src_ptr, src_ptr + 1000, dst_ptr + 7999, src_ptr],
                                                       [1000, 4000, 2, 5000]),
                             [OK, OK, INVALID_PARAMS, OK])  # the third runs past its region
            self.assertEqual(self.store.get(key("priv-1")), src.raw[1000:5000])
            self.assertEqual(self.store.get(key("priv-0")), src.raw[:1000])
            self.assertEqual(self.store.get_into(key("private"), dst_ptr, 8001), INVALID_PARAMS)  # past the region
        finally:
            self.assertEqual(self.store.unregister_buffer(src_ptr), OK)
            self.assertEqual(self.store.unregister_buffer(dst_ptr), OK)
        self.assertEqual(self.store.unregister_buffer(src_ptr), INVALID_PARAMS)

    def test_multi_buffers_gather_on_put_and_scatter_on_get(self):
        src = [ctypes.create_string_buffer(os.urandom(n), n) for n in (3000, 1, 5000)]
        dst = [ctypes.create_string_buffer(n) for n in (4000, 4001)]
        regions = [(ctypes.addressof(b), len(b)) for b in src + dst]
        for ptr, n in regions:
            self.assertEqual(self.store.register_buffer(ptr, n), OK)
        (a, na), (b, nb), (c, nc), (d, nd), (e, ne) = regions
        whole = src[0].raw + src[1].raw + src[2].raw
        try:
            self.assertEqual(self.store.batch_put_from_multi_buffers(
                [key("multi-0"), key("multi-1"), key("multi-2"), key("multi-3")],
                [[a, b, c], [c + 10], [a, e + ne - 1], [a, b]],
                [[na, nb, nc], [100], [10, 2], [na]]),
                [OK, OK, INVALID_PARAMS, INVALID_PARAMS])  # past a region; lists of different lengths
            self.assertEqual(self.store.get(key("multi-0")), whole)
            self.assertEqual(self.store.get(key("multi-1")), src[2].raw[10:110])
            self.assertEqual(self.store.is_exist(key("multi-2")), 0)
            self.assertEqual(self.store.batch_get_into_multi_buffers(
                [key("multi-0"), key("multi-1"), key("nothing"), key("multi-0")],
                [[d, e], [d], [d], [d]], [[nd, ne], [200], [10], [nd]]),
                [len(whole), 100, OBJECT_NOT_FOUND, BUFFER_OVERFLOW])
            # filled in order; multi-1, read after multi-0, took the first 100 bytes of d
            self.assertEqual(dst[0].raw[:100], src[2].raw[10:110])
            self.assertEqual(dst[0].raw[100:] + dst[1].raw[:len(whole) - nd], whole[100:])
            self.assertEqual(self.store.batch_get_into_multi_buffers([key("multi-1")], [[d, e]], [[nd + 1, 10]]),
                             [INVALID_PARAMS])  # past the region
        finally:
            for ptr, _ in regions:
                self.assertEqual(self.store.unregister_buffer(ptr), OK)

    def test_get_into_ranges_gathers_fragments_of_several_keys(self):
        self.assertEqual(self.store.put(key("r1"), bytes(range(40))), OK)
        self.assertEqual(self.store.put(key("r2"), bytes(range(100, 140))), OK)
        b0, b1 = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
        p0, p1 = ctypes.addressof(b0), ctypes.addressof(b1)
        self.assertEqual(self.store.register_buffer(p0, 32), OK)
        self.assertEqual(self.store.register_buffer(p1, 32), OK)
        try:
            results = self.store.get_into_ranges(
                [p0, p1], [[key("r1"), key("r2")], [key("r2"), key("r1"), key("none")]],
                [[[0, 20], [8]], [[4], [16, 30], [0]]],
                [[[1, 30], [2]], [[0], [10, 0], [0]]],
                [[[4, 3], [5]], [[6], [4, 8], [1]]])
            self.assertEqual(results, [[[4, 3], [5]], [[6], [4, BUFFER_OVERFLOW], [OBJECT_NOT_FOUND]]])
            self.assertEqual(b0.raw[0:4], bytes(range(1, 5)))
            self.assertEqual(b0.raw[20:23], bytes(range(30, 33)))
            self.assertEqual(b0.raw[8:13], bytes(range(102, 107)))
            self.assertEqual(b1.raw[4:10], bytes(range(100, 106)))
            self.assertEqual(b1.raw[16:20], bytes(range(10, 14)))
            self.assertEqual(self.store.get_into_ranges([p0], [[key("r1")]], [[[0]]], [[[39]]], [[[2]]]),
                             [[[INVALID_PARAMS]]])  # past the value's end
            self.assertEqual(self.store.get_into_ranges([p0], [[key("r1")]], [[[0, 1]]], [[[0]]], [[[1]]]),
                             [[[INVALID_PARAMS, INVALID_PARAMS]]])  # fragment lists of different lengths
        finally:
            self.store.unregister_buffer(p0)
            self.store.unregister_buffer(p1)

    def test_numpy_arrays_as_private_buffers(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("numpy is not installed (Debian: python3-numpy): numpy buffers not tested")
        src = numpy.frombuffer(os.urandom(1 << 20), dtype=numpy.uint8).copy()
        dst = numpy.zeros(1 << 20, dtype=numpy.uint8)
        self.assertEqual(self.store.register_buffer(src.ctypes.data, src.nbytes), OK)
        self.assertEqual(self.store.register_buffer(dst.ctypes.data, dst.nbytes), OK)
        try:
            self.assertEqual(self.store.put_from(key("np"), src.ctypes.data, src.nbytes), OK)
            self.assertEqual(self.store.get_into(key("np"), dst.ctypes.data, dst.nbytes), src.nbytes)
            self.assertTrue(numpy.array_equal(src, dst))
            half = src.nbytes // 2
            self.assertEqual(self.store.batch_put_from([key("np-a"), key("np-b")],
                                                       [src.ctypes.data, src.ctypes.data + half], [half, half]),
                             [OK, OK])
            dst[:] = 0
            self.assertEqual(self.store.batch_get_into([key("np-b"), key("np-a")],
                                                       [dst.ctypes.data, dst.ctypes.data + half], [half, half]),
                             [half, half])
            self.assertTrue(numpy.array_equal(dst[:half], src[half:]))
            self.assertTrue(numpy.array_equal(dst[half:], src[:half]))
            self.assertEqual(self.store.get_into(key("np"), dst.ctypes.data, half), BUFFER_OVERFLOW)
        finally:
            self.assertEqual(self.store.unregister_buffer(src.ctypes.data), OK)
            self.assertEqual(self.store.unregister_buffer(dst.ctypes.data), OK)

    def test_torch_cpu_tensors_as_private_buffers(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed (Debian: python3-torch): torch CPU tensors not tested")
        src = torch.randint(0, 256, (1 << 20,), dtype=torch.uint8)
        dst = torch.zeros(1 << 20, dtype=torch.uint8)
        n = src.numel()
        self.assertEqual(self.store.register_buffer(src.data_ptr(), n), OK)
        self.assertEqual(self.store.register_buffer(dst.data_ptr(), n), OK)
        try:
            self.assertEqual(self.store.put_from(key("torch"), src.data_ptr(), n), OK)
            self.assertEqual(self.store.get_into(key("torch"), dst.data_ptr(), n), n)
            self.assertTrue(torch.equal(src, dst))
        finally:
            self.assertEqual(self.store.unregister_buffer(src.data_ptr()), OK)
            self.assertEqual(self.store.unregister_buffer(dst.data_ptr()), OK)

    def test_memory_this_process_cannot_write_is_refused(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        reserved = libc.mmap(None, 1 << 20, 0, 0x22, -1, 0)  # PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS
        self.assertNotEqual(reserved, ctypes.c_void_p(-1).value)
        try:  # as CUDA reserves its unified address range: no access from this process
            self.assertEqual(self.store.register_buffer(reserved, 4096), INVALID_PARAMS)
        finally:
            libc.munmap(reserved, 1 << 20)
        self.assertEqual(self.store.register_buffer(reserved, 4096), INVALID_PARAMS)  # unmapped now
        self.assertEqual(self.store.register_buffer(16, 4096), INVALID_PARAMS)
        page = ctypes.create_string_buffer(8192)
        self.assertEqual(self.store.register_buffer(ctypes.addressof(page), 8192), OK)
        self.assertEqual(self.store.unregister_buffer(ctypes.addressof(page)), OK)

    def test_get_buffer_handles(self):
        value = os.urandom(70000)
        self.assertEqual(self.store.put(key("handle"), value), OK)
        handle = self.store.get_buffer(key("handle"))
        self.assertIsInstance(handle, BufferHandle)
        self.assertEqual((handle.size(), len(handle)), (70000, 70000))
        self.assertEqual(bytes(memoryview(handle)), value)
        self.assertEqual(ctypes.string_at(handle.ptr(), 70000), value)
        handles = self.store.batch_get_buffer([key("handle"), key("none")])
        self.assertEqual(bytes(handles[0]), value)
        self.assertIsNone(handles[1])

    # --- concurrency and failures ---------------------------------------------------------

    def test_eight_threads_put_get_remove_concurrently(self):
        shared, contended, replaced = key("shared"), key("contended"), key("replaced")
        self.assertEqual(self.store.put(shared, b"shared value"), OK)
        errors = []

        def work(t):
            try:
                assert self.store.put(contended, b"same value") == OK  # one stores it, the others find it
                assert self.store.get(contended) == b"same value"
                assert self.store.upsert(replaced, b"upsert %d" % t) == OK
                for i in range(40):
                    k = key("thread-%d-%d" % (t, i))
                    value = ("%d/%d" % (t, i)).encode() * (1 + i * 50)
                    assert self.store.put(k, value) == OK
                    assert self.store.get(k) == value, k
                    assert self.store.get(shared) == b"shared value"
                    assert self.store.remove(k) == OK, k
                    assert self.store.get(k) == b"", k
            except BaseException as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        self.assertLessEqual(self.store._open, 8)  # the pool stays within max_connections
        self.assertIn(self.store.get(replaced), [b"upsert %d" % t for t in range(8)])

    def test_a_killed_sidecar_gives_error_codes_never_wrong_bytes(self):
        with tempfile.TemporaryDirectory() as shm:
            victim = MooncakeDistributedStore()
            self.assertEqual(victim.setup("127.0.0.1", "", 16 << 20, 1 << 20, "tcp", "", MASTER, shm_dir=shm,
                                          timeout=DEADLINE_S), OK)
            try:
                values = {key("victim-%d" % i): os.urandom(10000 + i) for i in range(20)}
                self.assertEqual(victim.put_batch(list(values), list(values.values())), OK)
                results, codes, stop = [], [], threading.Event()

                def reader():
                    while not stop.is_set():
                        for k, v in values.items():
                            got = victim.get(k)
                            results.append(got == v or got == b"")
                            if got == b"":
                                return

                def writer():
                    i = 0
                    while not stop.is_set():
                        code = victim.put(key("victim-new-%d" % i), os.urandom(5000))
                        codes.append(code)
                        i += 1
                        if code != OK:
                            return
                threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
                for t in threads:
                    t.start()
                time.sleep(0.3)
                victim._sidecar.process.send_signal(signal.SIGKILL)
                for t in threads:
                    t.join(DEADLINE_S)
                stop.set()
                self.assertFalse(any(t.is_alive() for t in threads), "a call hung after the sidecar died")
                self.assertTrue(all(results))  # every answer was the value or empty, never other bytes
                self.assertLess(codes[-1], 0)
                self.assertTrue(all(c == OK for c in codes[:-1]), codes)
                self.assertLess(victim.put(key("after"), b"x"), 0)
                self.assertEqual(victim.get(key("victim-0")), b"")
                self.assertLess(victim.health_check(), 0)
            finally:
                victim.close()

    def test_the_sidecar_stops_when_the_python_process_dies(self):
        code = ("import sys, time\n"
                "from ferry.mooncake import MooncakeDistributedStore\n"
                "s = MooncakeDistributedStore()\n"
                "assert s.setup('127.0.0.1', '', 16 << 20, 1 << 20, 'tcp', '', sys.argv[1], shm_dir=sys.argv[2]) == 0\n"
                "print(s._sidecar.process.pid, s._workdir, flush=True)\n"
                "time.sleep(600)\n")
        with tempfile.TemporaryDirectory() as shm:
            child = subprocess.Popen([sys.executable, "-c", code, MASTER, shm], stdout=subprocess.PIPE,
                                     cwd=os.path.dirname(os.path.abspath(__file__)))
            try:
                pid, workdir = child.stdout.readline().split()
                pid = int(pid)
            finally:
                child.kill()
                child.wait()
                child.stdout.close()
            deadline = time.monotonic() + DEADLINE_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(_alive(pid), "the sidecar outlived its Python process")
        self.assertTrue(os.path.isdir(workdir))  # its owner was killed before close()
        mooncake._sweep_workdirs()  # as the next setup() of this user does
        self.assertFalse(os.path.exists(workdir))
        self.assertTrue(os.path.isdir(self.store._workdir))  # a live owner's folder stays


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    unittest.main()
