package dev.ferry.cluster.netns;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.node.NodeCommandLine;
import dev.ferry.store.node.ProcessSupport;
import dev.ferry.transfer.TransferEngine;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A bare transfer-engine target for link tests: one DRAM segment served on every
 * interface. Prints {@code FERRY-READY port=P} and runs until stdin closes.
 */
@Command(name = "ferry-segment-server", mixinStandardHelpOptions = true)
public final class SegmentServerMain implements Callable<Integer> {
    @Option(names = "--bytes", required = true, description = "Segment size, bytes.")
    long bytes;

    @Option(names = "--name", defaultValue = "target/dram", description = "Segment name.")
    String name;

    @Option(names = "--advertise", split = ",", required = true, description = "Addresses of this host's links.")
    List<String> advertise;

    @Override
    public Integer call() {
        Slab slab = Slab.allocate(bytes);
        TransferEngine engine = new TransferEngine(new TransferEngine.Context().bindHost("0.0.0.0").advertise(advertise));
        engine.registerSegment(name, slab.memory());
        ProcessSupport.announceReady("role=segment-server port=" + engine.endpoint().port());
        ProcessSupport.runUntilStopped(true, slab, engine);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new SegmentServerMain(), args));
    }
}
