package dev.ferry.cluster.netns;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.transport.Link;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link that flaps under load: two shaped links to one target (a process in its own network
 * namespace), clients writing blocks and reading each back to compare, while one link is
 * taken down ({@code ip link set DEV down}) and up again every few seconds. Asserts that no
 * request fails and no byte comes back wrong; prints the longest pause of all progress after
 * each cut, against the detection (stall) timeout, for docs/benchmarks.md. The namespace and
 * its veth pairs go with the {@link ShapedTarget}, closed however the test ends.
 */
class LinkFlapsTest {
    private static final int RATE_MBITS = 400;
    private static final int CLIENTS = 4;
    private static final long BLOCK = 4L << 20;
    private static final long REGION = 4 * BLOCK;
    private static final long SEGMENT = CLIENTS * REGION;
    private static final int FLAPS = 5;
    /** Deadline of each request: a request not done by then was lost. */
    private static final java.time.Duration LOST = java.time.Duration.ofSeconds(60);
    private static final long DOWN_MILLIS = 1000;
    private static final long UP_MILLIS = 2000;

    @BeforeAll
    static void needsNamespaces() {
        var reason = NetnsTestBed.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no network namespaces here: " + reason.orElse(""));
    }

    @Test
    void aLinkFlappingEveryFewSecondsUnderLoadLosesNoRequestAndNoByte(@TempDir Path dir) throws Exception {
        AtomicLong requests = new AtomicLong();
        AtomicLong wrongBytes = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failed = new ConcurrentLinkedQueue<>();
        List<long[]> cuts = Collections.synchronizedList(new ArrayList<>()); // {down, up} nanoTime
        long[] flappingLinkBytesAtLastUp = {0};
        try (ShapedTarget target = ShapedTarget.start("l" + ProcessHandle.current().pid() % 1000, SEGMENT,
                     dir.resolve("target.log"), RATE_MBITS, RATE_MBITS);
             Slab src = Slab.allocate(SEGMENT);
             Slab back = Slab.allocate(SEGMENT);
             TransferEngine engine = new TransferEngine(target.initiatorContext())) {
            List<? extends Link> links = engine.links(target.descriptor());
            // Connected and warm before the clock starts: a first request over every link.
            engine.submit(List.of(TransferRequest.write(src.memory(), 0, ShapedTarget.SEGMENT_NAME, 0, SEGMENT)))
                    .await();
            ProgressMonitor monitor = new ProgressMonitor(links);
            ProgressMonitor resends = new ProgressMonitor(engine::sliceRetries);
            long start = System.nanoTime();
            List<Thread> clients = new ArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                clients.add(Thread.ofPlatform().name("client-" + c).start(() -> {
                    for (long round = 0; !stop.get(); round++) {
                        long at = client * REGION + (round % (REGION / BLOCK)) * BLOCK;
                        fill(src.memory().asSlice(at, BLOCK), client * 1_000_003L + round);
                        try {
                            // A deadline far beyond any healing: a request the engine lost fails the test
                            // (with the links' state) instead of hanging it.
                            engine.submit(List.of(TransferRequest.write(src.memory(), at, ShapedTarget.SEGMENT_NAME,
                                    at, BLOCK).withTimeout(LOST))).await();
                            engine.submit(List.of(TransferRequest.read(back.memory(), at, ShapedTarget.SEGMENT_NAME,
                                    at, BLOCK).withTimeout(LOST))).await();
                            requests.addAndGet(2);
                            wrongBytes.addAndGet(wrongBytes(src.memory().asSlice(at, BLOCK),
                                    back.memory().asSlice(at, BLOCK)));
                        } catch (RuntimeException e) {
                            failed.add(new AssertionError(e + "; links then: " + links.stream().map(l -> l
                                    + (l.isUp() ? " up, " : " down, ") + l.inFlightBytes() + " bytes in flight")
                                    .toList(), e));
                        }
                    }
                }));
            }
            try {
                TimeUnit.MILLISECONDS.sleep(UP_MILLIS);
                for (int i = 0; i < FLAPS; i++) {
                    long down = System.nanoTime();
                    target.bed().setLinkUp(1, false);
                    TimeUnit.MILLISECONDS.sleep(DOWN_MILLIS);
                    long up = System.nanoTime();
                    target.bed().setLinkUp(1, true);
                    cuts.add(new long[] {down, up});
                    flappingLinkBytesAtLastUp[0] = engine.links(target.descriptor()).get(1).estimator().bytes();
                    TimeUnit.MILLISECONDS.sleep(UP_MILLIS);
                }
            } finally {
                stop.set(true);
                for (Thread t : clients) {
                    t.join();
                }
                monitor.close();
                resends.close();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long bytes = links.stream().mapToLong(l -> l.estimator().bytes()).sum();
            List<String> pauses = new ArrayList<>();
            List<String> detections = new ArrayList<>();
            List<String> beyond = new ArrayList<>();
            for (long[] cut : cuts) {
                long end = cut[1] + TimeUnit.MILLISECONDS.toNanos(UP_MILLIS);
                pauses.add(String.format("%.0f", monitor.longestPause(cut[0], end) / 1e6));
                // Detection: the cut link's slices failed and were resent (the first resend after the cut).
                long detected = resends.firstMoveAfter(cut[0]);
                if (detected < 0 || detected > end) {
                    detections.add("-");
                    beyond.add("-");
                    continue;
                }
                detections.add(String.format("%.0f", (detected - cut[0]) / 1e6));
                // Beyond detection: from then until bytes complete again.
                long resumed = monitor.firstMoveAfter(detected);
                beyond.add(resumed < 0 ? "never" : String.format("%.1f", (resumed - detected) / 1e6));
            }
            long quiet = monitor.longestPause(start + TimeUnit.MILLISECONDS.toNanos(500), cuts.get(0)[0]);
            System.out.printf("link flaps: 2 x %d Mbit/s, %d clients writing and reading back %d MiB blocks; link 1 "
                            + "down %d ms and up %d ms, %d times; %d requests in %.1f s (%.0f Mbit/s), %d failed, %d "
                            + "wrong bytes, %d slices resent; per flap: longest pause of all progress %s ms (before "
                            + "the first flap %.0f ms), detection (first resend after the cut; stall timeout %d ms) "
                            + "%s ms, bytes completing again %s ms after detection%n", RATE_MBITS, CLIENTS, BLOCK >> 20,
                    DOWN_MILLIS, UP_MILLIS, FLAPS, requests.get(), seconds, bytes * 8 / seconds / 1e6, failed.size(),
                    wrongBytes.get(), engine.sliceRetries(), pauses, quiet / 1e6, ShapedTarget.STALL_TIMEOUT_MILLIS,
                    detections, beyond);
            System.out.printf("  slices failed per link %s; failures %s%n",
                    links.stream().map(l -> l.name() + "=" + l.estimator().failures()).toList(),
                    failed.stream().limit(3).map(Throwable::toString).toList());
            assertThat(failed).isEmpty();
            assertThat(wrongBytes.get()).isZero();
            assertThat(cuts).hasSize(FLAPS);
            assertThat(engine.sliceRetries()).as("slices caught on the cut link were resent").isPositive();
            assertThat(links.get(1).estimator().bytes()).as("the flapping link carried bytes after it came back")
                    .isGreaterThan(flappingLinkBytesAtLastUp[0]);
            assertThat(requests.get()).isGreaterThan(2L * CLIENTS);
        }
    }

    /** Fills {@code block} with a pattern of {@code seed}. */
    private static void fill(MemorySegment block, long seed) {
        for (long i = 0; i < block.byteSize(); i += 8) {
            block.set(ValueLayout.JAVA_LONG_UNALIGNED, i, (i + seed) * 0x9E3779B97F4A7C15L + seed);
        }
    }

    /** Bytes that differ between {@code expected} and {@code actual} (of one size). */
    private static long wrongBytes(MemorySegment expected, MemorySegment actual) {
        long first = expected.mismatch(actual);
        if (first < 0) {
            return 0;
        }
        long wrong = 0;
        for (long i = first; i < expected.byteSize(); i++) {
            if (expected.get(ValueLayout.JAVA_BYTE, i) != actual.get(ValueLayout.JAVA_BYTE, i)) {
                wrong++;
            }
        }
        return wrong;
    }
}
