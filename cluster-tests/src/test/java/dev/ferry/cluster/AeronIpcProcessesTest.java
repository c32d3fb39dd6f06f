package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.cluster.cli.FerryCommand;
import dev.ferry.cluster.netns.SegmentServerMain;
import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.aeron.CommonContext;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Aeron IPC between processes: a media driver process ({@code ferry aeron-driver}), a target
 * process on that driver, and an initiator in this JVM on the same driver.
 */
class AeronIpcProcessesTest {
    @Test
    void processesSharingOneMediaDriverTransferOverIpcByteForByte(@TempDir Path dir) throws Exception {
        String aeronDir = CommonContext.getAeronDirectoryName() + "-ferry-ipc-" + ProcessHandle.current().pid();
        long bytes = 64L << 20;
        ChildProcess driver = ChildProcess.start("aeron-driver", List.of(), FerryCommand.class.getName(),
                List.of("aeron-driver", "--dir", aeronDir, "--exit-on-stdin-close"), dir.resolve("driver.log"));
        ChildProcess target = null;
        try {
            driver.awaitReady();
            target = ChildProcess.start("target", List.of(), SegmentServerMain.class.getName(), List.of("--bytes",
                    Long.toString(bytes), "--advertise", "127.0.0.1", "--aeron-dir", aeronDir), dir.resolve("target.log"));
            SegmentDescriptor d = new SegmentDescriptor("target/dram", bytes,
                    List.of(new Endpoint("127.0.0.1", Integer.parseInt(target.field("port")))), "", "",
                    List.of(new Endpoint("127.0.0.1", Integer.parseInt(target.field("aeron-port")))),
                    new AeronIpc(target.field("aeron-ipc-driver"), Integer.parseInt(target.field("aeron-ipc-stream"))));
            try (Slab local = Slab.allocate(bytes); Slab back = Slab.allocate(bytes);
                 TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeronDirectory(aeronDir)
                         .resolver(n -> d))) {
                for (long i = 0; i < bytes; i += 8) {
                    local.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L + 3);
                }
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "target/dram", 0, bytes))).await();
                initiator.submit(List.of(TransferRequest.read(back.memory(), 0, "target/dram", 0, bytes))).await();
                assertThat(back.memory().mismatch(local.memory())).isEqualTo(-1);
                assertThat(initiator.aeronLinks(d)).singleElement().satisfies(link -> {
                    assertThat(link.name()).startsWith("aeron:ipc:");
                    assertThat(link.estimator().bytes()).isEqualTo(2 * bytes);
                });
                assertThat(initiator.transportFailovers()).isZero();
            }
        } finally {
            if (target != null) {
                target.stop();
                target.awaitExit();
            }
            driver.stop();
            driver.awaitExit();
        }
    }
}
