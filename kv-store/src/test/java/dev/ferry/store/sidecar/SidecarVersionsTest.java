package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Clients of protocol version 1 (8-byte keys) and version 2 (16-byte keys) against one
 * sidecar: a version-1 key {@code k} is the block {@code BlockKey.of(k)} of version 2, and a
 * wide key reaches version-2 clients only.
 */
class SidecarVersionsTest {
    private static final long BLOCK = 8192;
    private SidecarFixture fx;
    private ShmFile shm;
    private ShmFile shm2;

    @BeforeEach
    void start() {
        fx = new SidecarFixture(c -> c);
        shm = new ShmFile(1 << 20);
        shm2 = new ShmFile(1 << 20); // a buffer is one connection's
    }

    @AfterEach
    void stop() throws IOException {
        fx.close();
        shm.close();
        shm2.close();
    }

    @Test
    void versionOneAndTwoClientsShareNarrowKeysAndOnlyVersionTwoReachesWideOnes() {
        BlockKey wide = new BlockKey(0x5EED, 7); // same low half as the narrow key 7
        try (SidecarClient v1 = fx.client(1); SidecarClient v2 = fx.client(2)) {
            assertThat(v1.version()).isEqualTo(1);
            assertThat(v2.version()).isEqualTo(2);
            int b1 = v1.registerBuffer(shm.path, shm.bytes);
            BlockContent.fill(7, shm.slice(0, BLOCK));
            assertThat(v1.put(new long[] {7}, b1, new long[] {0}, new long[] {BLOCK})).containsExactly(0);

            // Version 2 reads the version-1 key k as BlockKey.of(k), byte for byte.
            int b2 = v2.registerBuffer(shm2.path, shm2.bytes);
            assertThat(v2.get(BlockKey.of(7), b2, BLOCK, BLOCK)).isEqualTo(BLOCK);
            assertThat(BlockContent.firstMismatch(7, shm2.slice(BLOCK, BLOCK))).isEqualTo(-1);
            assertThat(v2.exists(BlockKey.of(7), wide)).containsExactly(true, false);

            // A wide key with the same low half is another block.
            byte[] wideBytes = new byte[(int) BLOCK / 2];
            BlockContent.fill(wide, java.lang.foreign.MemorySegment.ofArray(wideBytes));
            assertThat(v2.putInline(new BlockKey[] {wide}, new byte[][] {wideBytes})).containsExactly(0);
            assertThat(v2.getInline(wide)[0]).isEqualTo(wideBytes);
            assertThat(v1.get(7, b1, 2 * BLOCK, BLOCK)).isEqualTo(BLOCK);
            assertThat(BlockContent.firstMismatch(7, shm.slice(2 * BLOCK, BLOCK))).isEqualTo(-1);
            assertThat(v1.lookupPrefix(7)).isEqualTo(1);

            // A ranged put of a version-1 client is committed for both.
            BlockContent.fill(9, shm.slice(0, BLOCK));
            assertThat(v1.putStart(new long[] {9}, new long[] {BLOCK})).containsExactly(0);
            v1.writeRange(9, 0, b1, 0, BLOCK);
            v1.putCommit(9);
            assertThat(v2.lookupPrefix(BlockKey.of(7), BlockKey.of(9), wide)).isEqualTo(3);
            assertThat(v2.remove(BlockKey.of(9))).containsExactly(0);
            assertThat(v1.exists(7, 9)).containsExactly(true, false);

            // Version 1 cannot carry a wide key: refused before anything is sent.
            assertThatThrownBy(() -> v1.exists(wide)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("version 1 carries 64-bit block keys only");
            assertThat(v1.exists(7)).containsExactly(true); // the connection still serves
        }
    }

    @Test
    void helloAgreesOnTheHighestVersionBothSpeakAndRefusesNone() throws IOException {
        assertThat(hello(1, 2).getShort(HEADER_BYTES)).isEqualTo((short) 2);
        assertThat(hello(1, 3).getShort(HEADER_BYTES)).isEqualTo((short) 3);
        assertThat(hello(1, 9).getShort(HEADER_BYTES)).isEqualTo((short) 3);
        assertThat(hello(1, 1).getShort(HEADER_BYTES)).isEqualTo((short) 1);
        assertThat(hello(1, 2).getInt(0)).isEqualTo(HEADER_AFTER_LENGTH + HELLO_ANSWER_BYTES); // as before version 3
        ByteBuffer refused = hello(4, 5);
        assertThat(refused.getShort(6)).isEqualTo((short) UNSUPPORTED_VERSION);
        int n = refused.getShort(HEADER_BYTES) & 0xFFFF;
        assertThat(new String(refused.array(), HEADER_BYTES + 2, n, StandardCharsets.UTF_8))
                .contains("this sidecar speaks versions 1..3, the client asked for 4..5");
        assertThatThrownBy(() -> fx.client(4)).isInstanceOfSatisfying(SidecarException.class,
                e -> assertThat(e.status()).isEqualTo(UNSUPPORTED_VERSION));
    }

    /** A HELLO offering {@code min..max} on a new connection; the answer frame, whole. */
    private ByteBuffer hello(int min, int max) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(fx.sidecar.socketPath()));
            ByteBuffer frame = ByteBuffer.allocate(HEADER_BYTES + 6).order(ByteOrder.LITTLE_ENDIAN);
            frame.putInt(HEADER_AFTER_LENGTH + 6).putShort((short) HELLO).putShort((short) 0).putLong(1)
                    .putShort((short) min).putShort((short) max).putShort((short) 0).flip();
            ch.write(frame);
            ByteBuffer answer = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
            while (answer.position() < 4 || answer.position() < 4 + answer.getInt(0)) {
                if (ch.read(answer) < 0) {
                    break;
                }
            }
            return answer;
        }
    }
}
