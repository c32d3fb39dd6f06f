package dev.ferry.cluster.cli;

import dev.ferry.cluster.netns.SegmentServerMain;
import dev.ferry.store.cli.ByteSizes;
import dev.ferry.store.cli.NodeCommandLine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry bench target}: the target side of a two-host transfer benchmark. */
@Command(name = "target", mixinStandardHelpOptions = true,
        description = "Serve one segment for 'ferry bench transfer --target HOST:PORT' on another host.")
final class BenchTargetCommand implements Callable<Integer> {
    @Option(names = "--segment-bytes", defaultValue = "512MiB", description = "Segment size (default ${DEFAULT-VALUE}).")
    String segmentBytes;

    @Option(names = "--advertise", split = ",", defaultValue = "127.0.0.1",
            description = "Addresses initiators use, one per interface (default ${DEFAULT-VALUE}).")
    List<String> advertise;

    @Option(names = "--shm", description = "Back the segment with /dev/shm (initiators on this host may map it).")
    boolean shm;

    @Option(names = "--warm-up-ms", defaultValue = dev.ferry.store.cli.WarmUpOption.DEFAULT_VALUE,
            description = "Before serving, move bytes over loopback until the serving path is compiled, for at most "
            + "this long; 0 for none (default ${DEFAULT-VALUE}).")
    long warmUpMillis;

    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.TlsOptions tls;

    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.IoOptions io;

    @Override
    public Integer call() {
        List<String> args = new ArrayList<>(List.of("--bytes", Long.toString(ByteSizes.parse(segmentBytes)),
                "--advertise", String.join(",", advertise), "--warm-up-ms", Long.toString(warmUpMillis)));
        if (shm) {
            args.add("--shm");
        }
        args.addAll(tls.arguments());
        args.addAll(io.arguments());
        return NodeCommandLine.run(new SegmentServerMain(), args.toArray(String[]::new));
    }
}
