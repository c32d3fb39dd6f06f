/**
 * Coordination of several masters through etcd: an etcd v3 client over etcd's JSON gateway
 * ({@link dev.ferry.store.coord.EtcdClient}), leader election with a lease and an epoch
 * ({@link dev.ferry.store.coord.LeaderElection}), and the address forms that name a master
 * directly or through etcd ({@link dev.ferry.store.coord.MasterAddress}). Knows nothing of the
 * master's state or of its RPC.
 */
package dev.ferry.store.coord;
