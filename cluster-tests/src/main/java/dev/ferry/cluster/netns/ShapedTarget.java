package dev.ferry.cluster.netns;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.nio.file.Path;
import java.util.List;

/**
 * A transfer-engine target behind shaped links: a {@link NetnsTestBed} and a
 * {@link SegmentServerMain} process inside its namespace serving one DRAM segment,
 * {@link #SEGMENT_NAME}, on every link. Initiators in the root namespace reach it with
 * {@link #initiatorContext()}: one TCP link per veth pair.
 *
 * <p>Not thread-safe. Owns the namespace and the process: close it.
 */
public final class ShapedTarget implements AutoCloseable {
    /** Name of the target's segment. */
    public static final String SEGMENT_NAME = "target/dram";
    /** Stall timeout of the initiators, ms: a cut link's slices are resent after this long. */
    public static final long STALL_TIMEOUT_MILLIS = 500;

    private final NetnsTestBed bed;
    private final ChildProcess process;
    private final SegmentDescriptor descriptor;

    private ShapedTarget(NetnsTestBed bed, ChildProcess process, SegmentDescriptor descriptor) {
        this.bed = bed;
        this.process = process;
        this.descriptor = descriptor;
    }

    /**
     * Creates the test bed and starts the target in it; waits until it serves.
     *
     * @param tag          short unique name of the test bed (letters and digits, at most 6)
     * @param segmentBytes size of the target's segment, bytes
     * @param log          the target's log file
     * @param rateMbits    rate of each link, Mbit/s
     * @throws IllegalStateException if the namespace, a link or the process cannot be made
     */
    public static ShapedTarget start(String tag, long segmentBytes, Path log, int... rateMbits) {
        NetnsTestBed bed = NetnsTestBed.create(tag, rateMbits);
        try {
            ChildProcess p = ChildProcess.start("target", bed.inNamespaceCommand(List.of()),
                    SegmentServerMain.class.getName(), List.of("--bytes", Long.toString(segmentBytes), "--advertise",
                            // A test bed of the engine's links on a bridge private to this host: plain TCP.
                            String.join(",", bed.peerAddresses()), "--insecure-no-tls"), log);
            try {
                int port = Integer.parseInt(p.field("port"));
                List<Endpoint> endpoints = bed.peerAddresses().stream().map(a -> new Endpoint(a, port)).toList();
                return new ShapedTarget(bed, p, new SegmentDescriptor(SEGMENT_NAME, segmentBytes, endpoints, "", ""));
            } catch (RuntimeException e) {
                p.stop();
                p.awaitExit();
                throw e;
            }
        } catch (RuntimeException e) {
            bed.close();
            throw e;
        }
    }

    /** The test bed: its namespace, addresses and links (to cut one, for instance). */
    public NetnsTestBed bed() {
        return bed;
    }

    /** The target's segment: one TCP endpoint per link. */
    public SegmentDescriptor descriptor() {
        return descriptor;
    }

    /**
     * A context for an initiator in the root namespace: one TCP link per veth pair, a stall
     * timeout of {@link #STALL_TIMEOUT_MILLIS}, and a resolver that knows the target's
     * segment. Callers may set more (a spray policy, for instance) before building the engine.
     */
    public TransferEngine.Context initiatorContext() {
        return new TransferEngine.Context().linksPerPeer(1).stallTimeoutMillis(STALL_TIMEOUT_MILLIS)
                .resolver(name -> descriptor);
    }

    /** Stops the target and deletes the namespace and its links. */
    @Override
    public void close() {
        try {
            process.stop();
            process.awaitExit();
        } finally {
            bed.close();
        }
    }
}
