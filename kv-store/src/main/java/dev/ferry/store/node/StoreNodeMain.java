package dev.ferry.store.node;

import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A store node as a process ({@link StoreNode}): a DRAM slab under {@code /dev/shm} served
 * as one segment, heartbeats to the master, and, with {@code --data-dir}, a persistent slab
 * and block index that a restarted node finds again.
 */
@Command(name = "store-node", mixinStandardHelpOptions = true, description = "Runs a Ferry store node.")
public final class StoreNodeMain implements Callable<Integer> {
    @Option(names = "--node-id", required = true, description = "Unique node name.")
    String nodeId;

    @Option(names = "--master", required = true, description = "Master RPC address, host:port.")
    String master;

    @Option(names = "--capacity-bytes", required = true, description = "DRAM slab size, bytes.")
    long capacityBytes;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address for data links (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--data-port", defaultValue = "0", description = "Transfer engine TCP port; 0 picks a free one.")
    int dataPort;

    @Option(names = "--advertise", split = ",", description = "Addresses peers use to reach this node, one per "
            + "interface (default: --host).")
    List<String> advertise;

    @Option(names = "--aeron", description = "Also serve the segment over Aeron UDP (embedded media driver).")
    boolean aeron;

    @Option(names = "--shm-dir", defaultValue = "/dev/shm", description = "Where a non-persistent slab file lives "
            + "(default ${DEFAULT-VALUE}).")
    Path shmDir;

    @Option(names = "--data-dir", description = "Keep the slab (dram.slab) and the block index (index.cmap) here, "
            + "across restarts; put it on /dev/shm for DRAM speed. Without it the node starts empty every time.")
    Path dataDir;

    @Option(names = "--ssd-dir", description = "Directory of the SSD tier (RocksDB with BlobDB); without it the node "
            + "has DRAM only. Cold blocks are demoted to it when DRAM is over 85%% full and promoted back on a hit.")
    Path ssdDir;

    @Option(names = "--ssd-capacity-bytes", defaultValue = "0", description = "SSD tier capacity, bytes "
            + "(default: 8 x the DRAM capacity).")
    long ssdCapacityBytes;

    @Option(names = "--ssd-policy", defaultValue = "lru", description = "The SSD tier's own eviction policy: lru or "
            + "s3fifo (default ${DEFAULT-VALUE}).")
    String ssdPolicy;

    @Option(names = "--heartbeat-ms", defaultValue = "300", description = "Heartbeat period, ms.")
    long heartbeatMillis;

    @Option(names = "--lazy-slab", defaultValue = "${env:FERRY_LAZY_SLAB:-false}", fallbackValue = "true",
            description = "Do not populate the DRAM slab at start: each page is faulted in by its first write (a "
            + "faster start, slower first writes). Default: $FERRY_LAZY_SLAB, else false.")
    boolean lazySlab;

    @Option(names = "--scrub-bytes-per-second", defaultValue = "67108864", description = "Most bytes per second the "
            + "background scrub re-checks against their CRC32C; 0 turns it off (default ${DEFAULT-VALUE}: 64 MiB/s).")
    long scrubBytesPerSecond;

    @Option(names = "--master-reconnect-ms", defaultValue = "5000", description = "How long a call to the master "
            + "keeps trying to reach a master that went away (a restart), ms (default ${DEFAULT-VALUE}).")
    long masterReconnectMillis;

    @Override
    public Integer call() {
        TransferEngine.Context engine = new TransferEngine.Context().bindHost(host).port(dataPort)
                .advertise(advertise == null ? List.of() : advertise).aeron(aeron);
        StoreNode node = StoreNode.start(new StoreNode.Config(nodeId, HostPort.parse(master), capacityBytes, engine,
                shmDir, dataDir, ssdDir, ssdCapacityBytes > 0 ? ssdCapacityBytes : 8 * capacityBytes, ssdPolicy,
                heartbeatMillis, lazySlab, scrubBytesPerSecond, masterReconnectMillis));
        SegmentDescriptor segment = node.segment();
        ProcessSupport.announceReady("role=store node=" + nodeId + " data=" + segment.endpoints().getFirst()
                + " file=" + node.slabFile() + " segment=" + segment.name() + " bytes=" + capacityBytes
                + " recovered=" + node.recovered() + " dropped=" + node.dropped()
                + " populate_ms=" + node.populateNanos() / 1_000_000);
        ProcessSupport.runUntilStopped(node);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new StoreNodeMain(), args));
    }
}
