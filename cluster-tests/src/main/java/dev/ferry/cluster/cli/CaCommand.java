package dev.ferry.cluster.cli;

import dev.ferry.transfer.tls.ClusterCa;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry ca --dir DIR --hosts h1,h2}: makes a cluster CA in DIR (or uses the one there)
 * and issues each host a certificate, in DIR/HOST/ (ca.pem, cert.pem, key.pem: what
 * {@code --tls-dir} takes). For tests and trial clusters; a production cluster may bring its
 * own PKI (docs/operations.md, "Authenticated ports").
 */
@Command(name = "ca", mixinStandardHelpOptions = true, description = "Makes a cluster CA and a TLS certificate per "
        + "host, for --tls-dir (testing and trial clusters).")
public final class CaCommand implements Callable<Integer> {
    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The CA's directory: ca.pem and "
            + "ca-key.pem (made when absent, reused when present), and a directory per host.")
    Path dir;

    @Option(names = "--hosts", required = true, split = ",", paramLabel = "HOST[,HOST...]", description = "One "
            + "certificate per host, named for it, with the host (IP address or DNS name) as subject alternative "
            + "name besides loopback's; HOST=ALT+ALT adds names, e.g. node1=10.0.0.1+node1.example.")
    List<String> hosts;

    @Option(names = "--name", defaultValue = "ferry-cluster-ca", description = "The CA's common name (default "
            + "${DEFAULT-VALUE}).")
    String name;

    @Override
    public Integer call() {
        ClusterCa ca = ClusterCa.openOrCreate(dir, name);
        for (String host : hosts) {
            String id = host;
            List<String> names = List.of(host);
            int eq = host.indexOf('=');
            if (eq >= 0) {
                id = host.substring(0, eq);
                names = List.of(host.substring(eq + 1).split("\\+"));
            }
            if (id.isBlank() || id.contains("/") || id.startsWith(".")) {
                throw new IllegalArgumentException("--hosts: '" + id + "' is no name for a directory");
            }
            Path issued = ca.issue(dir.resolve(id), id, names);
            System.out.println(id + ": " + issued + " (--tls-dir " + issued + ")");
        }
        System.out.println("CA: " + dir.resolve("ca.pem") + " (keep " + dir.resolve(ClusterCa.CA_KEY_FILE)
                + " private: it signs the cluster's certificates)");
        return ExitCodes.OK;
    }
}
