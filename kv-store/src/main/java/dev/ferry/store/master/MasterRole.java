package dev.ferry.store.master;

/**
 * Whether a master process leads its cluster, and under which epoch: what its metrics
 * ({@code ferry_master_leader}, {@code ferry_master_epoch}) and its {@code /ready} show. A
 * master reads its role through a {@code Supplier<MasterRole>}; leader election (etcd) is
 * where a changing one comes from. Immutable; thread-safe.
 *
 * @param leader    whether this master answers the cluster's calls now (false: a standby)
 * @param epoch     the epoch of the leadership it holds or last saw, 0 before any election
 * @param takeovers terms this master has led since it started (each election it won)
 */
public record MasterRole(boolean leader, long epoch, long takeovers) {
    /** The only master of a cluster without leader election: the leader, epoch 0. */
    public static final MasterRole SOLE = new MasterRole(true, 0, 0);

    /** @throws IllegalArgumentException for a negative epoch or count */
    public MasterRole {
        if (epoch < 0 || takeovers < 0) {
            throw new IllegalArgumentException("epoch and takeovers must be >= 0");
        }
    }
}
