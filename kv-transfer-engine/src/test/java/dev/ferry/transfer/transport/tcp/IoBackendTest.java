package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUringServerSocketChannel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The TCP transport runs on the I/O backend asked for, moves bytes intact on each one, and
 * falls back with its reason when the one asked for cannot run.
 */
class IoBackendTest {
    private static final Map<IoBackend, Class<?>> SERVER_CHANNELS = Map.of(
            IoBackend.URING, IoUringServerSocketChannel.class,
            IoBackend.EPOLL, EpollServerSocketChannel.class,
            IoBackend.NIO, NioServerSocketChannel.class);

    @Test
    void namesParseInAnyCaseAndAnUnknownNameListsTheChoices() {
        assertThat(IoBackend.parse("URING")).isEqualTo(IoBackend.URING);
        assertThat(IoBackend.parse("io_uring")).isEqualTo(IoBackend.URING);
        assertThat(IoBackend.parse(" epoll ")).isEqualTo(IoBackend.EPOLL);
        assertThat(IoBackend.parse("nio")).isEqualTo(IoBackend.NIO);
        assertThatThrownBy(() -> IoBackend.parse("kqueue")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kqueue").hasMessageContaining("uring, epoll, nio");
    }

    @Test
    void uringThatCannotRunFallsBackToEpollWithTheReason() {
        IoSelection s = IoSelection.select(IoBackend.URING, b -> b == IoBackend.URING ? "io_uring_disabled is 2" : null);
        assertThat(s.used()).isEqualTo(IoBackend.EPOLL);
        assertThat(s.requested()).isEqualTo(IoBackend.URING);
        assertThat(s.toString()).isEqualTo("epoll (uring unavailable: io_uring_disabled is 2)");
    }

    @Test
    void withNeitherNativeBackendTheTransportRunsOnNio() {
        IoSelection s = IoSelection.select(IoBackend.URING, b -> "no native library");
        assertThat(s.used()).isEqualTo(IoBackend.NIO);
        assertThat(s.fallback()).isEqualTo("uring unavailable: no native library; epoll unavailable: no native library");
        assertThat(IoSelection.select(IoBackend.NIO, b -> "never asked").fallback()).isNull();
    }

    @Test
    void aBackendThatCanRunIsUsedAsAsked() {
        assertThat(IoSelection.select(IoBackend.EPOLL, b -> null)).isEqualTo(new IoSelection(IoBackend.EPOLL,
                IoBackend.EPOLL, null));
    }

    /** io_uring's accepted sockets are blocking: only epoll's connections are read from directly. */
    @Test
    void onlyEpollConnectionsAreReadIntoPlace() {
        assertThat(IoBackend.EPOLL.readsIntoPlace()).isTrue();
        assertThat(IoBackend.URING.readsIntoPlace()).isFalse();
        assertThat(IoBackend.NIO.readsIntoPlace()).isFalse();
        io.netty.channel.epoll.Epoll.ensureAvailability(); // loads the native libraries the channels open sockets with
        io.netty.channel.uring.IoUring.ensureAvailability();
        var epoll = new io.netty.channel.epoll.EpollSocketChannel();
        var uring = new io.netty.channel.uring.IoUringSocketChannel();
        try {
            assertThat(IoBackend.readsIntoPlace(epoll)).isTrue();
            assertThat(IoBackend.readsIntoPlace(uring)).isFalse();
            assertThat(IoBackend.readsIntoPlace(new io.netty.channel.embedded.EmbeddedChannel())).isFalse();
        } finally {
            epoll.unsafe().closeForcibly();
            uring.unsafe().closeForcibly();
        }
    }

    @Test
    void theKernelSwitchTurnsUringOffOnlyAtTwo(@TempDir Path dir) throws Exception {
        Path sw = dir.resolve("io_uring_disabled");
        assertThat(IoBackend.kernelSwitchOff(sw)).as("no switch: older kernel").isNull();
        Files.writeString(sw, "0\n");
        assertThat(IoBackend.kernelSwitchOff(sw)).isNull();
        Files.writeString(sw, "2\n");
        assertThat(IoBackend.kernelSwitchOff(sw)).contains("is 2").contains("disabled");
        assertThat(IoBackend.uringUnavailability(sw)).contains("is 2");
    }

    @Test
    void theSystemPropertyNamesTheBackendOfEnginesThatNameNone() {
        String before = System.getProperty(IoBackend.PROPERTY);
        try {
            System.setProperty(IoBackend.PROPERTY, "nio");
            try (TransferEngine engine = new TransferEngine(new TransferEngine.Context())) {
                assertThat(engine.tcpIo().used()).isEqualTo(IoBackend.NIO);
            }
            System.setProperty(IoBackend.PROPERTY, "carrier-pigeon");
            assertThatThrownBy(() -> new TransferEngine(new TransferEngine.Context()))
                    .hasMessageContaining("carrier-pigeon");
        } finally {
            if (before == null) {
                System.clearProperty(IoBackend.PROPERTY);
            } else {
                System.setProperty(IoBackend.PROPERTY, before);
            }
        }
    }

    /** WRITE and READ, one-frame and streamed sizes, each byte checked, on an engine pair of the backend. */
    @ParameterizedTest
    @EnumSource(IoBackend.class)
    void eachBackendThatCanRunIsTheOneUsedAndMovesBytesIntact(IoBackend backend) {
        IoSelection expected = IoSelection.select(backend);
        long range = 8L << 20;
        try (Slab remote = Slab.allocate(range); Slab local = Slab.allocate(range); Slab back = Slab.allocate(range);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().ioBackend(backend))) {
            assertThat(target.tcpIo()).isEqualTo(expected);
            SegmentDescriptor served = target.registerSegment("t", remote.memory());
            SegmentDescriptor d = new SegmentDescriptor(served.name(), served.bytes(), served.endpoints(), "elsewhere",
                    "", List.of(), null);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().ioBackend(backend)
                    .sharedMemory(false).resolver(name -> d))) {
                TcpTransport tcp = transportOf(target);
                assertThat(tcp.serverChannel()).isInstanceOf(SERVER_CHANNELS.get(expected.used()));
                MemorySegment src = local.memory();
                for (long i = 0; i < range; i += 8) {
                    src.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L);
                }
                List<TransferRequest> writes = new ArrayList<>();
                List<TransferRequest> reads = new ArrayList<>();
                long at = 0;
                for (long size : new long[] {4096, 64 << 10, 1 << 20, 4 << 20}) {
                    writes.add(TransferRequest.write(src, at, "t", at, size));
                    reads.add(TransferRequest.read(back.memory(), at, "t", at, size));
                    at += size;
                }
                initiator.submit(writes).await();
                initiator.submit(reads).await();
                assertThat(remote.memory().asSlice(0, at).mismatch(src.asSlice(0, at))).isEqualTo(-1);
                assertThat(back.memory().asSlice(0, at).mismatch(src.asSlice(0, at))).isEqualTo(-1);
            }
        }
    }

    private static TcpTransport transportOf(TransferEngine engine) {
        try {
            var f = TransferEngine.class.getDeclaredField("tcp");
            f.setAccessible(true);
            return (TcpTransport) f.get(engine);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
