package dev.ferry.transfer.transport.aeron;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.aeron.CommonContext;
import io.aeron.driver.MediaDriver;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Engines that share one media driver reach each other over Aeron IPC; others still over UDP. */
class AeronIpcTest {
    private static String newDirectory() {
        return CommonContext.getAeronDirectoryName() + "-ferry-ipc-test-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime();
    }

    @Test
    void enginesOnOneSharedDriverTransferOverIpcByteForByte() throws Exception {
        String dir = newDirectory();
        LinkedBlockingQueue<String> notes = new LinkedBlockingQueue<>();
        try (MediaDriver driver = MediaDrivers.launch(dir); Slab remote = Slab.allocate(32L << 20);
             Slab local = Slab.allocate(32L << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeronDirectory(dir)
                     .notificationListener((segment, message) -> notes.add(segment + ":" + new String(message))))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            assertThat(d.aeronIpc()).isNotNull();
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeronDirectory(dir)
                    .resolver(n -> d))) {
                fill(local.memory());
                for (long length : new long[] {1, 65_537, 8L << 20, 24L << 20}) {
                    initiator.submit(List.of(TransferRequest.write(local.memory(), 3, "t", 5, length))).await();
                    assertThat(remote.memory().asSlice(5, length).mismatch(local.memory().asSlice(3, length)))
                            .isEqualTo(-1);
                    try (Slab back = Slab.allocate(length)) {
                        initiator.submit(List.of(TransferRequest.read(back.memory(), 0, "t", 5, length))).await();
                        assertThat(back.memory().mismatch(local.memory().asSlice(3, length))).isEqualTo(-1);
                    }
                }
                assertThat(initiator.aeronLinks(d)).singleElement().satisfies(link -> {
                    assertThat(link.name()).startsWith("aeron:ipc:");
                    assertThat(link.estimator().bytes()).isGreaterThanOrEqualTo(2 * ((32L << 20) + 65_538));
                });
                assertThat(target.tcpCounters().bytesWritten()).isZero();

                initiator.notify("t", "ready".getBytes()).get(5, TimeUnit.SECONDS);
                assertThat(notes.poll(5, TimeUnit.SECONDS)).isEqualTo("t:ready");
            }
        }
    }

    @Test
    void anEngineOnADriverOfItsOwnReachesTheSharedOnesOverUdp() throws Exception {
        String dir = newDirectory();
        try (MediaDriver driver = MediaDrivers.launch(dir); Slab remote = Slab.allocate(4 << 20);
             Slab local = Slab.allocate(4 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeronDirectory(dir))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .resolver(n -> d))) {
                fill(local.memory());
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 4 << 20))).await();
                assertThat(remote.memory().mismatch(local.memory())).isEqualTo(-1);
                assertThat(initiator.aeronLinks(d)).singleElement()
                        .satisfies(link -> assertThat(link.name()).isEqualTo("aeron:" + d.aeronEndpoints().getFirst()));
                assertThat(target.tcpCounters().bytesWritten()).isZero();
            }
        }
    }

    private static void fill(MemorySegment m) {
        for (long i = 0; i < m.byteSize(); i += 8) {
            m.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L + 1);
        }
    }
}
