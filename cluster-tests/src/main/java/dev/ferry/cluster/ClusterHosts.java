package dev.ferry.cluster;

import java.util.List;

/**
 * Where the processes of a {@link LocalCluster} run: the command words that put a role on
 * its host, and the address the role binds and advertises there. {@link #loopback()} puts
 * every role on this host's loopback; a bed of network namespaces
 * ({@code dev.ferry.cluster.netns.NetnsHosts}) gives each role a host of its own.
 *
 * <p>Implementations are thread-safe; the cluster that is given one owns it and closes it
 * after its processes have stopped.
 */
public interface ClusterHosts extends AutoCloseable {
    /**
     * The command words before {@code java} that start {@code role} on its host (empty on
     * this host).
     *
     * @param role {@code master}, {@code store-N}, {@code decode} or {@code prefill}
     * @throws IllegalArgumentException for a role that has no host here
     */
    List<String> prefix(String role);

    /**
     * The address {@code role} binds and advertises to its peers.
     *
     * @throws IllegalArgumentException for a role that has no host here
     */
    String address(String role);

    /**
     * Every address of {@code role}, one per link of its host, {@link #address} first: a store
     * node advertises them all, and its peers open links to each.
     *
     * @throws IllegalArgumentException for a role that has no host here
     */
    default List<String> addresses(String role) {
        return List.of(address(role));
    }

    /** Whether all roles share one host (its loopback, its shared memory, its Unix sockets). */
    boolean oneHost();

    /** One line for the report: where the roles run. */
    String describe();

    /** Removes what was made for the hosts; quiet, idempotent. */
    @Override
    void close();

    /** Every role on this host's loopback, {@code 127.0.0.1}. */
    static ClusterHosts loopback() {
        return new ClusterHosts() {
            @Override
            public List<String> prefix(String role) {
                return List.of();
            }

            @Override
            public String address(String role) {
                return "127.0.0.1";
            }

            @Override
            public boolean oneHost() {
                return true;
            }

            @Override
            public String describe() {
                return "one host, on loopback";
            }

            @Override
            public void close() {
                // nothing was made
            }
        };
    }
}
