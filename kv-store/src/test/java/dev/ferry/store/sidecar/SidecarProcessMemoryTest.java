package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.PROCESS_MEMORY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.Master;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PUT_FROM and GET_INTO: blocks in two parts (a head in a shared buffer, the value in a shared
 * buffer or in the client's private memory, reached with process_vm_readv / writev). The
 * sidecar of these tests runs in the test's process, so "the client's private memory" is
 * off-heap memory of this process, named by address: the kernel calls are the real ones.
 */
class SidecarProcessMemoryTest {
    private static final long CAPACITY = 8 << 20;
    private static final long HEAD = 40;
    private SidecarFixture fx;
    private SidecarClient client;
    private ShmFile shm;
    private int buffer;
    private final Arena arena = Arena.ofShared();

    private void start(java.util.function.UnaryOperator<Sidecar.Context> settings) {
        fx = new SidecarFixture(c -> settings.apply(c.scrubBytesPerSecond(0)));
        client = fx.client();
        shm = new ShmFile(1 << 20);
        buffer = client.registerBuffer(shm.path, shm.bytes); // before mapping it here
    }

    @AfterEach
    void stop() throws IOException {
        client.close();
        fx.close();
        shm.close();
        arena.close();
    }

    private static BlockKey key(long k) {
        return BlockKey.of(k);
    }

    /** A value of private memory, filled with key k's bytes. */
    private MemorySegment privateValue(long k, long bytes) {
        MemorySegment m = arena.allocate(bytes, 64);
        BlockContent.fill(k, m);
        return m;
    }

    private SidecarClient.TwoParts fromProcess(long k, long headAt, MemorySegment value) {
        return new SidecarClient.TwoParts(key(k), buffer, headAt, HEAD, PROCESS_MEMORY, value.address(),
                value.byteSize());
    }

    private double copied(String path) {
        var counter = fx.sidecar.registry().find("ferry.sidecar.copy.bytes").tag("path", path).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void privateMemoryRoundTripsWithOneCopyAndItsHeadFromASharedBuffer() {
        start(c -> c);
        BlockContent.fill(100, shm.slice(0, 3 * HEAD)); // the heads
        MemorySegment a = privateValue(1, 300_000);
        MemorySegment b = privateValue(2, 1);
        assertThat(client.putFrom(fromProcess(1, 0, a), fromProcess(2, HEAD, b),
                new SidecarClient.TwoParts(key(3), buffer, 2 * HEAD, HEAD, buffer, 4096, 5000)))
                .containsExactly(0, 0, 0);
        assertThat(copied("process_memory")).isEqualTo(300_001);
        assertThat(copied("shared_buffer")).isEqualTo(5000);
        assertThat(fx.meter("ferry.sidecar.granted.puts")).as("put into space granted ahead: one master call")
                .isEqualTo(3);

        // Whole: the block is head + value, as GET reads it.
        long at = 512 * 1024;
        assertThat(client.get(new BlockKey[] {key(1)}, buffer, new long[] {at}, new long[] {400_000}))
                .containsExactly(HEAD + 300_000);
        assertThat(shm.slice(at, HEAD).mismatch(shm.slice(0, HEAD))).isEqualTo(-1);
        assertThat(shm.slice(at + HEAD, 300_000).mismatch(a)).isEqualTo(-1);

        // In two parts, the value straight to private memory.
        MemorySegment into = arena.allocate(300_000, 64);
        MemorySegment one = arena.allocate(1);
        assertThat(client.getInto(new SidecarClient.TwoParts(key(1), buffer, 800_000, HEAD, PROCESS_MEMORY,
                        into.address(), into.byteSize()),
                new SidecarClient.TwoParts(key(2), buffer, 900_000, HEAD, PROCESS_MEMORY, one.address(), 1)))
                .containsExactly(HEAD + 300_000, HEAD + 1);
        assertThat(into.mismatch(a)).isEqualTo(-1);
        assertThat(one.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(b.get(ValueLayout.JAVA_BYTE, 0));
        assertThat(shm.slice(800_000, HEAD).mismatch(shm.slice(0, HEAD))).isEqualTo(-1);
        assertThat(shm.slice(900_000, HEAD).mismatch(shm.slice(HEAD, HEAD))).isEqualTo(-1);
        assertThat(copied("process_memory")).isEqualTo(2 * 300_001);
        // Already there: answered 1, nothing written.
        assertThat(client.putFrom(fromProcess(1, 0, a))).containsExactly(1);
    }

    @Test
    void aValueLongerThanItsCapacityCopiesOnlyTheHeadAndMissingKeysAreMinusOne() {
        start(c -> c);
        MemorySegment a = privateValue(7, 10_000);
        assertThat(client.putFrom(fromProcess(7, 0, a))).containsExactly(0);
        MemorySegment small = arena.allocate(9_999);
        assertThat(client.getInto(new SidecarClient.TwoParts(key(7), buffer, 4096, HEAD, PROCESS_MEMORY,
                        small.address(), small.byteSize()),
                new SidecarClient.TwoParts(key(8), buffer, 8192, HEAD, PROCESS_MEMORY, small.address(), 10)))
                .containsExactly(-2L, -1L);
        assertThat(small.asSlice(0, 16).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0); // nothing of the value
        assertThat(shm.slice(4096, HEAD).mismatch(shm.slice(0, HEAD))).isEqualTo(-1); // the head, to tell whose block
    }

    @Test
    void memoryTheClientHasNotMappedFailsItsKeyOnly() {
        start(c -> c);
        long unmapped = 4096; // the first pages of an address space are never mapped
        MemorySegment good = privateValue(11, 20_000);
        byte[] answers = client.putFrom(new SidecarClient.TwoParts(key(10), buffer, 0, HEAD, PROCESS_MEMORY,
                unmapped, 20_000), fromProcess(11, HEAD, good));
        assertThat(answers).containsExactly(SidecarOps.UNREADABLE, 0);
        assertThat(client.exists(key(10), key(11))).containsExactly(false, true);
        // Nothing of the failed key stays allocated: it can be stored with another length.
        assertThat(client.putFrom(new SidecarClient.TwoParts(key(10), buffer, 0, HEAD, buffer, 0, 100)))
                .containsExactly(0);

        MemorySegment into = arena.allocate(20_000);
        assertThat(client.getInto(new SidecarClient.TwoParts(key(11), buffer, 4096, HEAD, PROCESS_MEMORY,
                        unmapped, 20_000),
                new SidecarClient.TwoParts(key(11), buffer, 8192, HEAD, PROCESS_MEMORY, into.address(), 20_000)))
                .containsExactly(SidecarOps.UNWRITABLE, HEAD + 20_000);
        assertThat(into.mismatch(good)).isEqualTo(-1);
    }

    @Test
    void aBatchOverSeveralProcessCallsFailsOnlyTheValuesTheClientHasNotMapped() {
        start(c -> c);
        long unmapped = 4096; // the first pages of an address space are never mapped
        long size = SidecarOps.PROCESS_CALL_BYTES / 2 + 1000; // two values never share a call
        MemorySegment[] values = new MemorySegment[5];
        SidecarClient.TwoParts[] puts = new SidecarClient.TwoParts[6];
        for (int i = 0; i < 5; i++) {
            values[i] = privateValue(60 + i, size);
            puts[i] = fromProcess(60 + i, 0, values[i]);
        }
        puts[2] = new SidecarClient.TwoParts(key(62), buffer, 0, HEAD, PROCESS_MEMORY, unmapped, size);
        puts[5] = new SidecarClient.TwoParts(key(65), buffer, 0, HEAD, buffer, 4096, 3000); // a shared one among them
        assertThat(client.putFrom(puts)).containsExactly(0, 0, SidecarOps.UNREADABLE, 0, 0, 0);
        assertThat(client.exists(key(60), key(61), key(62), key(63), key(64), key(65)))
                .containsExactly(true, true, false, true, true, true);

        MemorySegment[] into = new MemorySegment[5];
        SidecarClient.TwoParts[] gets = new SidecarClient.TwoParts[5];
        for (int i = 0; i < 5; i++) {
            into[i] = arena.allocate(size, 64);
            gets[i] = new SidecarClient.TwoParts(key(i == 2 ? 61 : 60 + i), buffer, 8192 + i * HEAD, HEAD,
                    PROCESS_MEMORY, i == 3 ? unmapped : into[i].address(), size);
        }
        assertThat(client.getInto(gets)).containsExactly(HEAD + size, HEAD + size, HEAD + size,
                SidecarOps.UNWRITABLE, HEAD + size);
        for (int i : new int[] {0, 1, 4}) {
            assertThat(into[i].mismatch(values[i])).as("value %d", i).isEqualTo(-1);
        }
        assertThat(into[2].mismatch(values[1])).isEqualTo(-1);
    }

    @ParameterizedTest(name = "copy threads {0}")
    @ValueSource(ints = {1, 2})
    void aLargeBatchMovesEveryByteOnOneOrTwoThreadsAndABadRangeInEitherHalfFailsOnlyItsValue(int threads) {
        start(c -> c.copyThreads(threads));
        long unmapped = 4096; // the first pages of an address space are never mapped
        int n = 8;
        long size = 600_001; // 4.8 MB in all: split in halves of four values, each over several process calls
        BlockContent.fill(500, shm.slice(0, n * HEAD)); // the heads
        MemorySegment[] values = new MemorySegment[n];
        SidecarClient.TwoParts[] puts = new SidecarClient.TwoParts[n];
        for (int i = 0; i < n; i++) {
            values[i] = privateValue(80 + i, size);
            puts[i] = i == 1 || i == 6 // one bad range in each half
                    ? new SidecarClient.TwoParts(key(80 + i), buffer, i * HEAD, HEAD, PROCESS_MEMORY, unmapped, size)
                    : fromProcess(80 + i, i * HEAD, values[i]);
        }
        assertThat(client.putFrom(puts)).containsExactly(0, SidecarOps.UNREADABLE, 0, 0, 0, 0,
                SidecarOps.UNREADABLE, 0);
        assertThat(client.exists(key(80), key(81), key(82), key(83), key(84), key(85), key(86), key(87)))
                .containsExactly(true, false, true, true, true, true, false, true);

        int[] stored = {0, 2, 3, 4, 5, 7, 0, 2};
        MemorySegment[] into = new MemorySegment[n];
        SidecarClient.TwoParts[] gets = new SidecarClient.TwoParts[n];
        for (int j = 0; j < n; j++) {
            into[j] = arena.allocate(size, 64);
            gets[j] = new SidecarClient.TwoParts(key(80 + stored[j]), buffer, 65536 + j * HEAD, HEAD,
                    PROCESS_MEMORY, j == 1 || j == 6 ? unmapped : into[j].address(), size);
        }
        long whole = HEAD + size;
        assertThat(client.getInto(gets)).containsExactly(whole, SidecarOps.UNWRITABLE, whole, whole, whole, whole,
                SidecarOps.UNWRITABLE, whole);
        for (int j = 0; j < n; j++) {
            int i = stored[j];
            assertThat(shm.slice(65536 + j * HEAD, HEAD).mismatch(shm.slice(i * HEAD, HEAD))).as("head %d", j)
                    .isEqualTo(-1);
            if (j != 1 && j != 6) {
                assertThat(into[j].mismatch(values[i])).as("value %d", j).isEqualTo(-1);
            }
        }
        // The stored blocks are whole (head + value) as GET reads them, their CRC32C checked.
        long at = 131072;
        assertThat(client.get(new BlockKey[] {key(87)}, buffer, new long[] {at}, new long[] {whole}))
                .containsExactly(whole);
        assertThat(shm.slice(at, HEAD).mismatch(shm.slice(7 * HEAD, HEAD))).isEqualTo(-1);
        assertThat(shm.slice(at + HEAD, size).mismatch(values[7])).isEqualTo(-1);
        assertThat(fx.meter("ferry.sidecar.copy.splits")).isEqualTo(threads == 2 ? 2 : 0); // the put and the get
    }

    @Test
    void aSidecarWithoutProcessMemoryRefusesItAndStoresNothingButServesSharedBuffers() {
        start(c -> c.processMemory(false));
        MemorySegment a = privateValue(20, 1000);
        assertThatThrownBy(() -> client.putFrom(new SidecarClient.TwoParts(key(21), buffer, 0, HEAD, buffer, 0, 10),
                fromProcess(20, HEAD, a)))
                .isInstanceOfSatisfying(SidecarException.class,
                        e -> assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS));
        assertThat(client.exists(key(20), key(21))).containsExactly(false, false);
        assertThat(fx.sidecar.registry().find("ferry.sidecar.process.memory.refused").counter().count()).isEqualTo(1);
        MemorySegment into = arena.allocate(1000);
        assertThat(client.putFrom(new SidecarClient.TwoParts(key(21), buffer, 0, HEAD, buffer, 0, 10)))
                .containsExactly(0);
        assertThatThrownBy(() -> client.getInto(new SidecarClient.TwoParts(key(21), buffer, 4096, HEAD,
                PROCESS_MEMORY, into.address(), 1000)))
                .isInstanceOfSatisfying(SidecarException.class,
                        e -> assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS));
        assertThat(client.getInto(new SidecarClient.TwoParts(key(21), buffer, 4096, HEAD, buffer, 8192, 10)))
                .containsExactly(HEAD + 10);
    }

    @Test
    void aTcpClientCannotNameProcessMemoryAndIsToldWhy() {
        start(c -> c.tcp("127.0.0.1", 0));
        MemorySegment a = privateValue(40, 1000);
        try (SidecarClient remote = SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), null)) {
            assertThatThrownBy(() -> remote.putFrom(new SidecarClient.TwoParts(key(40), 0, 0, 0, PROCESS_MEMORY,
                    a.address(), a.byteSize())))
                    .isInstanceOfSatisfying(SidecarException.class, e -> {
                        assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS);
                        assertThat(e.reason()).contains("Unix socket");
                    });
        }
        assertThat(client.exists(key(40))).containsExactly(false);
        // The same bytes from a local client: stored.
        assertThat(client.putFrom(new SidecarClient.TwoParts(key(40), 0, 0, 0, PROCESS_MEMORY, a.address(),
                a.byteSize()))).containsExactly(0);
    }

    @Test
    void aCorruptBlockInTheSlabIsNeverCopiedToTheClient() {
        start(c -> c);
        MemorySegment a = privateValue(30, 64 * 1024);
        assertThat(client.putFrom(fromProcess(30, 0, a))).containsExactly(0);
        corrupt(key(30));
        MemorySegment into = arena.allocate(64 * 1024);
        assertThat(client.getInto(new SidecarClient.TwoParts(key(30), buffer, 4096, HEAD, PROCESS_MEMORY,
                into.address(), into.byteSize()))).containsExactly(-1L);
        assertThat(into.asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
        assertThat(fx.masterStats().corruptCopies()).isEqualTo(1);
        assertThat(client.exists(key(30))).containsExactly(false);
    }

    /** Flips bytes of the block's second page in the sidecar's slab file. */
    private void corrupt(BlockKey key) {
        Master master = fx.sidecar.embeddedMaster().master();
        Lease lease = master.get(new BlockKey[] {key}, 10_000);
        long offset = lease.replicas().getFirst().getFirst().offset();
        master.release(lease.id());
        Path slab = Path.of("/dev/shm", "ferry-sc-" + fx.dir.getFileName() + "-" + ProcessHandle.current().pid() + ".slab");
        try (Slab file = Slab.mapExisting(slab, CAPACITY)) {
            MemorySegment page = file.memory().asSlice(offset + Slab.PAGE_BYTES, Slab.PAGE_BYTES);
            page.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, ~page.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        }
    }
}
