package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.TransferException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Two engines in one JVM talking over real loopback TCP. */
class TcpTransferTest {
    private static final long TARGET_BYTES = 260L << 20;

    private final Map<String, SegmentDescriptor> directory = new ConcurrentHashMap<>();
    private Slab targetSlab;
    private Slab localSlab;
    private TransferEngine target;
    private TransferEngine initiator;

    @BeforeEach
    void start() {
        targetSlab = Slab.allocate(TARGET_BYTES);
        localSlab = Slab.allocate(TARGET_BYTES);
        target = new TransferEngine(new TransferEngine.Context());
        directory.put("t/dram", target.registerSegment("t/dram", targetSlab.memory()));
        initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(3)
                .resolver(name -> {
                    SegmentDescriptor d = directory.get(name);
                    if (d == null) {
                        throw new TransferException("unknown segment '" + name + "'", false);
                    }
                    return d;
                }));
    }

    @AfterEach
    void stop() {
        initiator.close();
        target.close();
        localSlab.close();
        targetSlab.close();
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 7, 4096, 65_537, 1 << 20, (5L << 20) + 3, 64L << 20, 256L << 20})
    void writeThenReadMovesEveryByte(long length) {
        MemorySegment local = localSlab.memory();
        fill(local, 3, length + 3, length);
        initiator.submit(List.of(TransferRequest.write(local, 3, "t/dram", 11, length))).await();
        assertThat(targetSlab.memory().asSlice(11, length).mismatch(local.asSlice(3, length))).isEqualTo(-1);

        MemorySegment back = Slab.allocate(length + 5).memory();
        initiator.submit(List.of(TransferRequest.read(back, 5, "t/dram", 11, length))).await();
        assertThat(back.asSlice(5, length).mismatch(local.asSlice(3, length))).isEqualTo(-1);
    }

    @Test
    void manyConcurrentBatchesLandAtTheirOffsets() throws Exception {
        MemorySegment local = localSlab.memory();
        fill(local, 0, 42, 32L << 20);
        // Links connect on first use; connected before the batches, every one of them carries slices.
        assertThat(initiator.links(target.endpoint())).allSatisfy(l -> assertThat(l.isUp()).isTrue());
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            long base = t * (8L << 20);
            threads.add(Thread.ofPlatform().start(() -> {
                List<TransferRequest> batch = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    long at = base + i * (512L << 10);
                    batch.add(TransferRequest.write(local, at, "t/dram", at, 512 << 10));
                }
                initiator.submit(batch).await();
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(targetSlab.memory().asSlice(0, 32L << 20).mismatch(local.asSlice(0, 32L << 20))).isEqualTo(-1);
        assertThat(initiator.links(target.endpoint())).allSatisfy(l -> assertThat(l.estimator().slices()).isPositive());
    }

    @Test
    void refusesRangesOutsideTheSegmentAtSubmit() {
        MemorySegment local = localSlab.memory();
        assertThatThrownBy(() -> initiator.submit(List.of(TransferRequest.write(local, 0, "t/dram", TARGET_BYTES - 10, 11))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("crosses the end of segment 't/dram'");
        assertThatThrownBy(() -> TransferRequest.read(MemorySegment.ofArray(new byte[10]), 5, "t/dram", 0, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("local buffer");
    }

    @Test
    void unknownSegmentIsAClearError() {
        assertThatThrownBy(() -> initiator.submit(List.of(TransferRequest.read(localSlab.memory(), 0, "nope", 0, 10))))
                .isInstanceOf(TransferException.class).hasMessageContaining("unknown segment 'nope'");
    }

    @Test
    void segmentUnregisteredOnThePeerFailsWithoutRetries() {
        target.unregisterSegment("t/dram");
        BatchHandle handle = initiator.submit(List.of(TransferRequest.read(localSlab.memory(), 0, "t/dram", 0, 100)));
        assertThatThrownBy(handle::await).isInstanceOf(TransferException.class)
                .hasMessageContaining("UNKNOWN_SEGMENT");
        assertThat(initiator.sliceRetries()).isZero();
    }

    @Test
    void deadPeerFailsTheRequestInsteadOfHanging() {
        initiator.submit(List.of(TransferRequest.write(localSlab.memory(), 0, "t/dram", 0, 1000))).await();
        target.close();
        BatchHandle handle = initiator.submit(List.of(TransferRequest.read(localSlab.memory(), 0, "t/dram", 0, 4 << 20)));
        assertThatThrownBy(() -> handle.completion().get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(TransferException.class);
    }

    @Test
    void malformedFrameGetsAnErrorAnswerAndLosesNothing() throws Exception {
        MemorySegment local = localSlab.memory();
        fill(local, 0, 9, 4096);
        initiator.submit(List.of(TransferRequest.write(local, 0, "t/dram", 0, 4096))).await();
        try (Socket socket = new Socket(target.endpoint().host(), target.endpoint().port())) {
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            out.writeInt(40);
            out.writeShort(0x1234); // bad magic
            out.write(new byte[38]);
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            int length = in.readInt();
            byte[] frame = new byte[length];
            in.readFully(frame);
            assertThat(new String(frame, 32, length - 32)).contains("bad magic");
            assertThat(in.read()).isEqualTo(-1); // the server closed the connection
        }
        assertThat(target.tcpCounters().malformedFrames()).isEqualTo(1);
        // The engine still serves, and the earlier bytes are intact.
        MemorySegment back = MemorySegment.ofArray(new byte[4096]);
        initiator.submit(List.of(TransferRequest.read(back, 0, "t/dram", 0, 4096))).await();
        assertThat(back.mismatch(local.asSlice(0, 4096))).isEqualTo(-1);
    }

    static void fill(MemorySegment segment, long offset, long seed, long length) {
        SplittableRandom random = new SplittableRandom(seed);
        long i = 0;
        for (; i + 8 <= length; i += 8) {
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + i, random.nextLong());
        }
        for (; i < length; i++) {
            segment.set(ValueLayout.JAVA_BYTE, offset + i, (byte) random.nextInt());
        }
    }
}
