"""ferry.mooncake against masters elected in etcd: the sidecar that setup() starts finds the
leader from an etcd:// master address, in Ferry's form (etcd://h1:2379/ID) and in Mooncake's
(etcd://h1:2379;h2:2379 with cluster_id), and two stores set up either way share keys; a
wrong cluster id fails setup with a negative code.

FERRY_ETCD is etcd's client address (host:port), FERRY_CLUSTER the masters' cluster id and
FERRY_HOME a Ferry distribution (./ferry dist). Run by MooncakeEtcdPythonTest, which starts
etcd and two `ferry master --etcd` processes:
    FERRY_HOME=target/ferry-dist FERRY_ETCD=127.0.0.1:2379 FERRY_CLUSTER=demo \\
        python3 -m unittest -v test_mooncake_etcd
"""

import os
import unittest

from ferry.mooncake import MooncakeDistributedStore

ETCD = os.environ.get("FERRY_ETCD")
CLUSTER = os.environ.get("FERRY_CLUSTER")
RUN = os.urandom(4).hex()


@unittest.skipUnless(ETCD and CLUSTER and os.environ.get("FERRY_HOME"),
                     "FERRY_ETCD, FERRY_CLUSTER and FERRY_HOME are not set: no etcd cluster to test against")
class MastersInEtcd(unittest.TestCase):
    def _store(self, address, **extra):
        store = MooncakeDistributedStore()
        code = store.setup("127.0.0.1", None, 32 << 20, 16 << 20, "tcp", "", address, **extra)
        self.addCleanup(store.close)
        return store, code

    def test_both_address_forms_reach_the_leader_and_share_keys(self):
        ferry_form, code = self._store("etcd://%s/%s" % (ETCD, CLUSTER))
        self.assertEqual(0, code)
        mooncake_form, code = self._store("etcd://%s;%s" % (ETCD, ETCD), cluster_id=CLUSTER)
        self.assertEqual(0, code)
        value = os.urandom(100_000)
        self.assertEqual(0, ferry_form.put(RUN + "/shared", value))
        self.assertEqual(value, mooncake_form.get(RUN + "/shared"))
        self.assertEqual(1, mooncake_form.is_exist(RUN + "/shared"))
        self.assertEqual(0, mooncake_form.remove(RUN + "/shared"))
        self.assertEqual(b"", ferry_form.get(RUN + "/shared"))

    def test_a_cluster_id_that_contradicts_the_address_fails_setup(self):
        store, code = self._store("etcd://%s/%s" % (ETCD, CLUSTER), cluster_id=CLUSTER + "-other",
                                  ready_timeout=60)
        self.assertLess(code, 0)

    def test_mooncakes_form_without_a_cluster_id_fails_setup(self):
        saved = os.environ.pop("FERRY_CLUSTER_ID", None)
        try:
            store, code = self._store("etcd://%s" % ETCD, ready_timeout=60)
        finally:
            if saved is not None:
                os.environ["FERRY_CLUSTER_ID"] = saved
        self.assertLess(code, 0)


if __name__ == "__main__":
    unittest.main()
