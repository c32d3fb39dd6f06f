package dev.ferry.transfer.transport.shm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.Transport;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.Opcode;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A target engine serving a file-backed slab; initiators map the file or fall back to TCP. */
class ShmTransportTest {
    @Test
    void fileBackedSegmentIsReachedThroughSharedMemoryAndOverTcpWhenTurnedOff(@TempDir Path dir) {
        long length = (3L << 20) + 5;
        try (Slab remote = Slab.mapShared(dir.resolve("seg.slab"), 4L << 20, true);
             Slab local = Slab.allocate(length + 11);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor d = target.registerSegment("s", remote);
            assertThat(d.file()).isEqualTo(dir.resolve("seg.slab").toString());
            MemorySegment bytes = local.memory();
            for (long i = 0; i < length; i++) {
                bytes.set(ValueLayout.JAVA_BYTE, 11 + i, (byte) (i * 31));
            }
            try (TransferEngine shm = new TransferEngine(new TransferEngine.Context().resolver(n -> d));
                 TransferEngine tcp = new TransferEngine(new TransferEngine.Context().sharedMemory(false)
                         .resolver(n -> d))) {
                shm.submit(List.of(TransferRequest.write(bytes, 11, "s", 7, length))).await();
                assertThat(shm.sharedMemoryBytes()).isEqualTo(length);
                assertThat(target.tcpCounters().bytesWritten()).isZero();
                assertThat(remote.memory().asSlice(7, length).mismatch(bytes.asSlice(11, length))).isEqualTo(-1);

                MemorySegment back = MemorySegment.ofArray(new byte[(int) length]);
                tcp.submit(List.of(TransferRequest.read(back, 0, "s", 7, length))).await();
                assertThat(tcp.sharedMemoryBytes()).isZero();
                assertThat(target.tcpCounters().bytesRead()).isEqualTo(length);
                assertThat(back.mismatch(bytes.asSlice(11, length))).isEqualTo(-1);
            }
        }
    }

    @Test
    void segmentWhoseFileIsGoneIsReachedOverTcp(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("gone.slab");
        try (Slab remote = Slab.mapShared(file, 1 << 20, false);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            AtomicReference<SegmentDescriptor> d = new AtomicReference<>(target.registerSegment("g", remote));
            Files.delete(file); // the mapping stays valid at the target; peers cannot open the file any more
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().resolver(n -> d.get()))) {
                MemorySegment src = MemorySegment.ofArray(new byte[4096]);
                src.fill((byte) 7);
                initiator.submit(List.of(TransferRequest.write(src, 0, "g", 0, 4096))).await();
                assertThat(initiator.sharedMemoryBytes()).isZero();
                assertThat(remote.memory().get(ValueLayout.JAVA_BYTE, 4095)).isEqualTo((byte) 7);
            }
        }
    }

    @Test
    void aPerRequestHintPicksTcpOverSharedMemoryAndAnUnreachableHintFallsBack(@TempDir Path dir) {
        try (Slab remote = Slab.mapShared(dir.resolve("hint.slab"), 1 << 20, true);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor d = target.registerSegment("h", remote);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().resolver(n -> d))) {
                MemorySegment src = MemorySegment.ofArray(new byte[8192]);
                src.fill((byte) 3);
                initiator.submit(List.of(TransferRequest.write(src, 0, "h", 0, 4096).withTransport(Transport.TCP),
                        TransferRequest.write(src, 4096, "h", 4096, 4096).withTransport(Transport.AERON))).await();
                // TCP as hinted; Aeron is not served by either end, so the engine's choice: shared memory.
                assertThat(target.tcpCounters().bytesWritten()).isEqualTo(4096);
                assertThat(initiator.sharedMemoryBytes()).isEqualTo(4096);
                assertThat(remote.memory().asSlice(0, 8192).mismatch(src)).isEqualTo(-1);
            }
        }
    }

    @Test
    void aMappingOfAPopulatedSlabHasAllItsPagesResidentAfterItsFirstWriteUnlessLazy() throws java.io.IOException {
        long size = 8L << 20;
        // On /dev/shm (4 KiB pages), as store nodes' slabs; removed on close.
        try (Slab remote = Slab.mapShared(shmFile("pop"), size, true);
             TransferEngine target = new TransferEngine(new TransferEngine.Context());
             ShmTransport populating = new ShmTransport(true);
             ShmTransport lazy = new ShmTransport(false)) {
            remote.populate(); // as a store node does at start
            SegmentDescriptor d = target.registerSegment("p", remote);
            MemorySegment one = MemorySegment.ofArray(new byte[1]);
            populating.copy(Opcode.READ, one, 0, d, 0, 1); // maps the file; a read alone does not populate it
            assertThat(populating.mapping(d).orElseThrow().residentBytes()).isLessThan(size);
            populating.copy(Opcode.WRITE, one, 0, d, 0, 1); // the first write populates the rest in the background
            lazy.copy(Opcode.WRITE, one, 0, d, 0, 1);
            await().untilAsserted(() -> assertThat(populating.populatedBytes()).isEqualTo(size));
            assertThat(populating.mapping(d).orElseThrow().residentBytes()).isEqualTo(size);
            assertThat(populating.populateMillis()).isPositive();
            assertThat(nicenessOfThreadsNamed("ferry-shm-popul")).isNotEmpty().containsOnly(19); // comm keeps 15 characters
            assertThat(lazy.mapping(d).orElseThrow().residentBytes()).isLessThan(size);
            assertThat(lazy.populatedBytes()).isZero();
        }
    }

    @Test
    void theEnginePopulatesItsMappingsOfPeerSlabsAndCountsTheTimeUnlessTurnedOff() {
        long size = 4L << 20;
        try (Slab remote = Slab.mapShared(shmFile("eng"), size, true);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            remote.populate();
            SegmentDescriptor d = target.registerSegment("e", remote);
            MemorySegment src = MemorySegment.ofArray(new byte[4096]);
            src.fill((byte) 9);
            try (TransferEngine populating = new TransferEngine(new TransferEngine.Context().resolver(n -> d)
                    .populateSharedMemory(true));
                 TransferEngine lazy = new TransferEngine(new TransferEngine.Context().resolver(n -> d)
                         .populateSharedMemory(false))) {
                populating.submit(List.of(TransferRequest.write(src, 0, "e", 0, 4096))).await();
                lazy.submit(List.of(TransferRequest.write(src, 0, "e", 4096, 4096))).await();
                await().untilAsserted(() -> assertThat(populating.mappingPopulation().bytes()).isEqualTo(size));
                assertThat(populating.mappingPopulation().millis()).isPositive();
                assertThat(lazy.mappingPopulation().bytes()).isZero();
                assertThat(remote.memory().asSlice(0, 4096).mismatch(src)).isEqualTo(-1);
                assertThat(remote.memory().asSlice(4096, 4096).mismatch(src)).isEqualTo(-1);
            }
        }
    }

    private static Path shmFile(String name) {
        return Path.of("/dev/shm", "ferry-shmtest-" + ProcessHandle.current().pid() + "-" + name + ".slab");
    }

    /** The niceness of each of this process's threads with that name ({@code /proc/self/task}). */
    private static java.util.List<Integer> nicenessOfThreadsNamed(String comm) throws java.io.IOException {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
            for (java.nio.file.Path task : tasks.toList()) {
                try {
                    if (java.nio.file.Files.readString(task.resolve("comm")).strip().equals(comm)) {
                        String stat = java.nio.file.Files.readString(task.resolve("stat"));
                        out.add(Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]));
                    }
                } catch (java.nio.file.NoSuchFileException ended) {
                    // a thread that ended while listed
                }
            }
        }
        return out;
    }
}
