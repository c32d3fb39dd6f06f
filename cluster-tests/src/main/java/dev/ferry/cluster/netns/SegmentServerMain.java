package dev.ferry.cluster.netns;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.transfer.TransferEngine;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A bare transfer-engine target for link tests and {@code ferry bench transfer}: one DRAM
 * segment served on every interface. Prints {@code FERRY-READY port=P bytes=N file=F
 * host-id=H aeron-port=A} (and {@code aeron-ipc-driver=D aeron-ipc-stream=S} on a shared
 * media driver) and runs until stdin closes or SIGTERM.
 */
@Command(name = "ferry-segment-server", mixinStandardHelpOptions = true)
public final class SegmentServerMain implements Callable<Integer> {
    @Option(names = "--bytes", required = true, description = "Segment size, bytes.")
    long bytes;

    @Option(names = "--name", defaultValue = "target/dram", description = "Segment name.")
    String name;

    @Option(names = "--advertise", split = ",", required = true, description = "Addresses of this host's links.")
    List<String> advertise;

    @Option(names = "--shm", description = "Back the segment with a /dev/shm file, so that initiators on this host "
            + "can reach it through shared memory.")
    boolean shm;

    @Option(names = "--aeron", description = "Also serve the segment over Aeron UDP.")
    boolean aeron;

    @Option(names = "--aeron-dir", description = "Share the Aeron media driver running in this directory (implies "
            + "--aeron): engines on the same driver reach this one over Aeron IPC.")
    String aeronDir;

    @Option(names = "--warm-up-ms", defaultValue = "0", description = "Before serving, move bytes over loopback "
            + "between throwaway engines until the serving path is compiled, for at most this long (default "
            + "${DEFAULT-VALUE}).")
    long warmUpMillis;

    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.TlsOptions tls;

    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.IoOptions io;

    @Override
    public Integer call() {
        tls.install();
        var backend = io.install();
        // Before the slab (its memory is not held meanwhile), and through TLS when the process serves it.
        dev.ferry.transfer.TransferWarmUp.run(warmUpMillis);
        // Every interface when it serves beyond loopback (then with TLS, or insecure), else loopback only.
        String bindHost = advertise.stream().allMatch(dev.ferry.transfer.tls.PortSecurity::isLoopback) ? "127.0.0.1"
                : "0.0.0.0";
        if (shm) {
            Slab.removeStale(java.nio.file.Path.of("/dev/shm")); // left by targets that were killed
        }
        Slab slab = shm ? Slab.mapShared(java.nio.file.Path.of("/dev/shm", "ferry-segment-"
                + ProcessHandle.current().pid() + ".slab"), bytes, true) : Slab.allocate(bytes);
        TransferEngine engine = new TransferEngine(new TransferEngine.Context().bindHost(bindHost).advertise(advertise)
                .aeron(aeron).aeronDirectory(aeronDir));
        var descriptor = engine.registerSegment(name, slab);
        ProcessSupport.announceReady("role=segment-server port=" + engine.endpoint().port() + " io="
                + backend.used().flag() + " bytes=" + bytes
                + " file=" + (descriptor.file().isEmpty() ? "-" : descriptor.file()) + " host-id="
                + (descriptor.hostId().isEmpty() ? "-" : descriptor.hostId()) + " aeron-port="
                + (descriptor.aeronEndpoints().isEmpty() ? "-" : descriptor.aeronEndpoints().getFirst().port())
                + (descriptor.aeronIpc() == null ? "" : " aeron-ipc-driver=" + descriptor.aeronIpc().driver()
                        + " aeron-ipc-stream=" + descriptor.aeronIpc().streamId()));
        ProcessSupport.runUntilStopped(slab, engine);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new SegmentServerMain(), args));
    }
}
