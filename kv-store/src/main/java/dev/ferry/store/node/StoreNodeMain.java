package dev.ferry.store.node;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A store node as a process: maps a DRAM slab backed by a file under {@code /dev/shm},
 * registers it with the transfer engine and the master as one segment, and sends
 * heartbeats (registering again when the master forgot it, e.g. after a master restart).
 */
@Command(name = "ferry-store-node", mixinStandardHelpOptions = true, description = "Runs a Ferry store node.")
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

    @Option(names = "--shm-dir", defaultValue = "/dev/shm", description = "Where the slab file lives (default ${DEFAULT-VALUE}).")
    Path shmDir;

    @Option(names = "--heartbeat-ms", defaultValue = "300", description = "Heartbeat period, ms.")
    long heartbeatMillis;

    @Override
    public Integer call() {
        HostPort m = HostPort.parse(master);
        Path file = shmDir.resolve("ferry-" + nodeId + "-" + ProcessHandle.current().pid() + ".slab");
        Slab slab = Slab.mapShared(file, capacityBytes, true);
        TransferEngine engine = null;
        MasterClient client = null;
        ScheduledExecutorService heartbeats = null;
        try {
            engine = new TransferEngine(new TransferEngine.Context().bindHost(host).port(dataPort)
                    .advertise(advertise == null ? List.of() : advertise).aeron(aeron));
            client = new MasterClient(m.host(), m.port(), 5_000);
            SegmentDescriptor segment = engine.registerSegment(nodeId + "/dram", slab);
            client.register(nodeId, segment);
            heartbeats = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "ferry-heartbeat"));
            MasterClient c = client;
            heartbeats.scheduleWithFixedDelay(() -> beat(c, segment), heartbeatMillis, heartbeatMillis,
                    TimeUnit.MILLISECONDS);
            ProcessSupport.announceReady("role=store node=" + nodeId + " data=" + segment.endpoints().getFirst()
                    + " file=" + file + " segment="
                    + segment.name() + " bytes=" + capacityBytes);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(slab, engine, client);
            throw e;
        }
        ScheduledExecutorService h = heartbeats;
        ProcessSupport.runUntilStopped(true, slab, engine, client, h::shutdownNow);
        return 0;
    }

    private void beat(MasterClient client, SegmentDescriptor segment) {
        try {
            client.heartbeat(nodeId);
        } catch (RpcException e) {
            if (e.status() == RpcException.REFUSED) {
                try {
                    client.register(nodeId, segment);
                } catch (RpcException ignored) {
                    // try again at the next beat
                }
            }
        }
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new StoreNodeMain(), args));
    }
}
