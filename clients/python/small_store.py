"""Test support: a store of its own `ferry master` and one small sidecar (4 MiB), so that
puts evict; used by test_mooncake.py and test_mooncake_api.py. FERRY_HOME names the Ferry
distribution whose bin/ferry starts the master."""

import contextlib
import os
import subprocess

from ferry.mooncake import OK, MooncakeDistributedStore


@contextlib.contextmanager
def small_store(test, local_buffer_size=1 << 20):
    """Yields a set-up MooncakeDistributedStore of 4 MiB on a master of its own; stops both after.
    ``local_buffer_size`` is setup's (Mooncake's client buffer)."""
    master = subprocess.Popen([os.path.join(os.environ["FERRY_HOME"], "bin", "ferry"), "master", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = MooncakeDistributedStore()
    try:
        port = None
        for line in master.stdout:  # ends when the master exits: then the assertion below fails
            if "FERRY-READY" in line:
                port = dict(w.split("=", 1) for w in line.split() if "=" in w)["port"]
                break
        test.assertIsNotNone(port, "the master did not start")
        test.assertEqual(store.setup("127.0.0.1", "P2PHANDSHAKE", 4 << 20, local_buffer_size, "tcp", "",
                                     "127.0.0.1:" + port), OK)
        yield store
    finally:
        store.close()
        master.terminate()
        master.wait(30)
        master.stdout.close()
