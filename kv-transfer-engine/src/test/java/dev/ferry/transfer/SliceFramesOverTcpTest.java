package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Slice frames written by hand onto a real socket to a serving engine: payloads that fail
 * their CRC32C, arrive in pieces or stop short. The server reads payloads straight from the
 * socket into the segment, so these are the cases where a careless reader would accept bad
 * bytes, mistake the next frame's header for payload, or wait for ever.
 */
class SliceFramesOverTcpTest {
    private static final String SEGMENT = "t/dram";
    private static final int ANSWER_HEADER = 4 + SliceFrame.HEADER_BYTES;

    private Slab slab;
    private TransferEngine target;

    @BeforeEach
    void start() {
        slab = Slab.allocate(8L << 20);
        target = new TransferEngine(new TransferEngine.Context());
        target.registerSegment(SEGMENT, slab.memory());
    }

    @AfterEach
    void stop() {
        target.close();
        slab.close();
    }

    @Test
    void aPayloadThatFailsItsCrcIsRefusedAndTheConnectionServesOn() throws IOException {
        byte[] good = payload(64 * 1024, 1);
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            out.write(header(7, 0, good.length, crc(good) ^ 1));
            out.write(good);
            Answer refused = Answer.read(socket);
            assertThat(refused.sliceId()).isEqualTo(7);
            assertThat(refused.status()).isEqualTo(SliceFrame.Status.CRC_MISMATCH.ordinal());

            out.write(header(8, 0, good.length, crc(good)));
            out.write(good);
            Answer accepted = Answer.read(socket);
            assertThat(accepted.sliceId()).isEqualTo(8);
            assertThat(accepted.status()).isZero();
        }
        assertThat(target.tcpCounters().crcMismatches()).isEqualTo(1);
        assertThat(landed(0, good.length)).isEqualTo(good);
    }

    @Test
    void writesOutsideTheSegmentOrToAnUnknownSegmentAreRefusedByTheSharedCoreAndTheConnectionServesOn()
            throws IOException {
        byte[] good = payload(4096, 4);
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            out.write(header(SliceFrame.WRITE, 1, (8L << 20) - 100, good.length, crc(good), SEGMENT));
            out.write(good);
            assertThat(Answer.read(socket).status()).isEqualTo(SliceFrame.Status.OUT_OF_BOUNDS.ordinal());
            out.write(header(SliceFrame.WRITE, 2, 0, good.length, crc(good), "no/such"));
            out.write(good);
            assertThat(Answer.read(socket).status()).isEqualTo(SliceFrame.Status.UNKNOWN_SEGMENT.ordinal());
            out.write(header(3, 0, good.length, crc(good)));
            out.write(good);
            assertThat(Answer.read(socket).status()).isZero();
        }
        assertThat(target.tcpCounters().refusals()).isEqualTo(2);
        assertThat(target.tcpCounters().serving().bytesWritten()).isEqualTo(good.length);
        assertThat(landed(0, good.length)).isEqualTo(good);
    }

    @Test
    void aFrameThatArrivesInPiecesLandsWholeAndTheNextFrameIsReadAsAFrame() throws Exception {
        byte[] first = payload(1 << 20, 2);
        byte[] second = payload(100_000, 3);
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            byte[] head = header(1, 4096 + 3, first.length, crc(first));
            out.write(head, 0, 10); // the header itself split
            out.flush();
            Thread.sleep(30);
            out.write(head, 10, head.length - 10);
            for (int at = 0; at < first.length; at += first.length / 3 + 1) {
                out.write(first, at, Math.min(first.length / 3 + 1, first.length - at));
                out.flush();
                Thread.sleep(30); // the server finds the socket empty in the middle of the payload
            }
            // The second frame follows the first in the same write: its header must not be taken for payload.
            ByteBuffer both = ByteBuffer.allocate(ANSWER_HEADER + SEGMENT.length() + second.length);
            both.put(header(2, 2 << 20, second.length, crc(second))).put(second);
            out.write(both.array());
            assertThat(Answer.read(socket).sliceId()).isEqualTo(1);
            Answer answer = Answer.read(socket);
            assertThat(answer.sliceId()).isEqualTo(2);
            assertThat(answer.status()).isZero();
        }
        assertThat(landed(4096 + 3, first.length)).isEqualTo(first);
        assertThat(landed(2 << 20, second.length)).isEqualTo(second);
        assertThat(target.tcpCounters().crcMismatches()).isZero();
    }

    @Test
    void aTrailerCrcIsCheckedEvenWhenItArrivesAByteAtATime() throws Exception {
        byte[] good = payload(300_000, 7);
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            out.write(trailerHeader(SliceFrame.WRITE, 1, 0, good.length));
            out.write(good);
            out.write(trailer(crc(good) ^ 0x100)); // one bit off
            assertThat(Answer.read(socket)).isEqualTo(new Answer(1, SliceFrame.Status.CRC_MISMATCH.ordinal()));

            out.write(trailerHeader(SliceFrame.WRITE, 2, 4096, good.length));
            out.write(good);
            for (byte b : trailer(crc(good))) {
                out.write(b);
                out.flush();
                Thread.sleep(20); // the server finds the socket empty inside the trailer
            }
            assertThat(Answer.read(socket)).isEqualTo(new Answer(2, 0));
        }
        assertThat(target.tcpCounters().crcMismatches()).isEqualTo(1);
        assertThat(landed(4096, good.length)).isEqualTo(good);
    }

    @Test
    void aReadWithTheTrailerFlagIsAnsweredWithATrailerAndOneWithoutWithTheCrcInTheHeader() throws IOException {
        byte[] data = payload(700_000, 8); // more than one piece of ChecksummedPayload
        MemorySegment.copy(MemorySegment.ofArray(data), 0, slab.memory(), 12345, data.length);
        try (Socket socket = connect()) {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            socket.getOutputStream().write(header(SliceFrame.READ, 1, 12345, data.length, 0));
            ByteBuffer alone = readFrame(in);
            assertThat(alone.get(SliceFrame.TYPE)).isEqualTo(SliceFrame.READ_DATA);
            assertThat(alone.getInt(SliceFrame.CRC)).isEqualTo(crc(data));
            assertThat(alone.remaining()).isEqualTo(SliceFrame.HEADER_BYTES + data.length);
            assertThat(body(alone, data.length)).isEqualTo(data);

            socket.getOutputStream().write(trailerHeader(SliceFrame.READ, 2, 12345, data.length));
            ByteBuffer queued = readFrame(in);
            assertThat(queued.get(SliceFrame.TYPE)).isEqualTo((byte) (SliceFrame.READ_DATA | SliceFrame.CRC_TRAILER));
            assertThat(queued.getLong(SliceFrame.SLICE_ID)).isEqualTo(2);
            assertThat(queued.getInt(SliceFrame.CRC)).isZero();
            assertThat(queued.remaining()).isEqualTo(SliceFrame.HEADER_BYTES + data.length + SliceFrame.TRAILER_BYTES);
            assertThat(body(queued, data.length)).isEqualTo(data);
            assertThat(queued.getInt(SliceFrame.HEADER_BYTES + data.length)).isEqualTo(crc(data));
        }
        assertThat(target.tcpCounters().malformedFrames()).isZero();
    }

    @Test
    void aTrailerFlagOnAnAnswerIsMalformedAndClosesTheConnection() throws IOException {
        try (Socket socket = connect()) {
            socket.getOutputStream().write(trailerHeader(SliceFrame.WRITE_ACK, 9, 0, 0));
            Answer refused = Answer.read(socket);
            assertThat(refused.status()).isEqualTo(SliceFrame.Status.MALFORMED.ordinal());
            assertThat(socket.getInputStream().read()).as("closed after the answer").isEqualTo(-1);
        }
        assertThat(target.tcpCounters().malformedFrames()).isEqualTo(1);
    }

    @Test
    void aFrameCutShortIsNeverAnsweredAndLosesNothingElse() throws IOException {
        byte[] kept = payload(64 * 1024, 4);
        try (Socket socket = connect()) {
            socket.getOutputStream().write(header(1, 0, kept.length, crc(kept)));
            socket.getOutputStream().write(kept);
            assertThat(Answer.read(socket).status()).isZero();
        }
        byte[] cut = payload(64 * 1024, 5);
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            out.write(header(2, 1 << 20, cut.length, crc(cut)));
            out.write(cut, 0, 1000);
            socket.shutdownOutput(); // the peer goes away mid-payload
            assertThat(socket.getInputStream().read()).as("no answer, then end of stream").isEqualTo(-1);
        }
        assertThat(landed(0, kept.length)).isEqualTo(kept);
        assertThat(target.tcpCounters().bytesWritten()).isEqualTo(kept.length);

        // The engine still serves new connections.
        try (Socket socket = connect()) {
            socket.getOutputStream().write(header(3, 1 << 20, cut.length, crc(cut)));
            socket.getOutputStream().write(cut);
            assertThat(Answer.read(socket).status()).isZero();
        }
        assertThat(landed(1 << 20, cut.length)).isEqualTo(cut);
    }

    @Test
    void aReadAnswerForARequestGivenUpOnIsDroppedNotWrittenIntoFreedMemory() throws Exception {
        byte[] data = payload(64 * 1024, 6);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(1)
                     .resolver(name -> new SegmentDescriptor(name, 1 << 20,
                             new Endpoint("127.0.0.1", server.getLocalPort()))))) {
            Arena freed = Arena.ofShared();
            BatchHandle given = initiator.submit(List.of(TransferRequest.read(freed.allocate(data.length), 0, "peer",
                    0, data.length)));
            try (Socket peer = server.accept()) {
                peer.setSoTimeout(10_000);
                DataInputStream in = new DataInputStream(peer.getInputStream());
                long first = readRequest(in);
                assertThat(given.cancel()).isEqualTo(1);
                freed.close(); // the caller frees its buffer once the request is cancelled

                MemorySegment live = Arena.ofAuto().allocate(data.length);
                BatchHandle next = initiator.submit(List.of(TransferRequest.read(live, 0, "peer", 0, data.length)));
                long second = readRequest(in);
                OutputStream out = peer.getOutputStream();
                out.write(answer(first, data));
                out.write(answer(second, data));
                next.completion().get(10, TimeUnit.SECONDS);
                assertThat(live.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
            }
        }
    }

    @Test
    void aReadWhoseAnswerFailsItsCrcIsResentAndLandsByteForByte() throws Exception {
        byte[] data = payload(64 * 1024, 8);
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
             TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(1)
                     .sharedMemory(false).resolver(name -> new SegmentDescriptor(name, 1 << 20,
                             new Endpoint("127.0.0.1", server.getLocalPort()))))) {
            MemorySegment into = Arena.ofAuto().allocate(data.length);
            BatchHandle handle = initiator.submit(List.of(TransferRequest.read(into, 0, "peer", 0, data.length)));
            // A target that corrupts its first answer: one byte flipped, the CRC32C of the right bytes kept.
            try (Socket peer = server.accept()) {
                peer.setSoTimeout(10_000);
                DataInputStream in = new DataInputStream(peer.getInputStream());
                OutputStream out = peer.getOutputStream();
                byte[] corrupted = answer(readRequest(in), data);
                corrupted[corrupted.length - 100] ^= 0x01;
                out.write(corrupted);
                out.write(answer(readRequest(in), data));
                handle.completion().get(10, TimeUnit.SECONDS);
            }
            assertThat(into.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
            assertThat(initiator.sliceRetries()).isEqualTo(1);
            assertThat(initiator.links(new Endpoint("127.0.0.1", server.getLocalPort())).getFirst().estimator()
                    .failures()).isEqualTo(1);
        }
    }

    @Test
    void anAnswerOfAnotherFrameVersionFailsTheRequestNamingTheVersion() throws Exception {
        byte[] data = payload(4096, 9);
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
             TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(1).maxAttempts(2)
                     .sharedMemory(false).resolver(name -> new SegmentDescriptor(name, 1 << 20,
                             new Endpoint("127.0.0.1", server.getLocalPort()))))) {
            // A peer from before the CRC32C trailer: it answers every READ with a version-1 frame.
            Thread peer = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        Socket s = server.accept();
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        byte[] old = answer(readRequest(in), data);
                        old[4 + 2] = 1; // the version byte
                        s.getOutputStream().write(old);
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            MemorySegment into = Arena.ofAuto().allocate(data.length);
            BatchHandle handle = initiator.submit(List.of(TransferRequest.read(into, 0, "peer", 0, data.length)));

            assertThatThrownBy(() -> handle.completion().get(10, TimeUnit.SECONDS))
                    .hasMessageContaining("unsupported frame version 1");
            peer.interrupt();
        }
    }

    /**
     * Reads one READ request frame off the hand-written peer's socket, past the HELLO that opens
     * a connection; returns its slice id.
     */
    private static long readRequest(DataInputStream in) throws IOException {
        ByteBuffer b;
        do {
            byte[] frame = new byte[in.readInt()];
            in.readFully(frame);
            b = ByteBuffer.wrap(frame);
        } while (b.get(SliceFrame.TYPE) == SliceFrame.HELLO);
        assertThat((byte) (b.get(SliceFrame.TYPE) & ~SliceFrame.CRC_TRAILER)).isEqualTo(SliceFrame.READ);
        return b.getLong(SliceFrame.SLICE_ID);
    }

    /** Reads one frame after its length field. */
    private static ByteBuffer readFrame(DataInputStream in) throws IOException {
        byte[] frame = new byte[in.readInt()];
        in.readFully(frame);
        return ByteBuffer.wrap(frame);
    }

    /** The {@code length} payload bytes of an answer frame (no segment name) read by {@link #readFrame}. */
    private static byte[] body(ByteBuffer frame, int length) {
        byte[] bytes = new byte[length];
        frame.get(SliceFrame.HEADER_BYTES, bytes);
        return bytes;
    }

    private static byte[] answer(long sliceId, byte[] data) {
        ByteBuf buf = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, SliceFrame.READ_DATA, sliceId, 0, data.length,
                crc(data), SliceFrame.Status.OK, null);
        try {
            byte[] bytes = new byte[buf.readableBytes() + data.length];
            buf.readBytes(bytes, 0, buf.readableBytes());
            System.arraycopy(data, 0, bytes, bytes.length - data.length, data.length);
            return bytes;
        } finally {
            buf.release();
        }
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket(target.endpoint().host(), target.endpoint().port());
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        return socket;
    }

    private byte[] landed(long offset, int length) {
        return slab.memory().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] header(long sliceId, long offset, int length, int crc) {
        return header(SliceFrame.WRITE, sliceId, offset, length, crc);
    }

    /** A frame header whose CRC32C follows the payload ({@link SliceFrame#CRC_TRAILER}). */
    private static byte[] trailerHeader(byte type, long sliceId, long offset, int length) {
        return header((byte) (type | SliceFrame.CRC_TRAILER), sliceId, offset, length, 0);
    }

    private static byte[] header(byte type, long sliceId, long offset, int length, int crc) {
        return header(type, sliceId, offset, length, crc, SEGMENT);
    }

    private static byte[] header(byte type, long sliceId, long offset, int length, int crc, String segment) {
        ByteBuf buf = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, sliceId, offset, length, crc,
                SliceFrame.Status.OK, SliceFrame.name(segment));
        try {
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            return bytes;
        } finally {
            buf.release();
        }
    }

    private static byte[] trailer(int crc) {
        return ByteBuffer.allocate(SliceFrame.TRAILER_BYTES).putInt(crc).array();
    }

    private static byte[] payload(int length, long seed) {
        byte[] bytes = new byte[length];
        TcpTransferTest.fill(MemorySegment.ofArray(bytes), 0, seed, length);
        return bytes;
    }

    private static int crc(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    /** An answer frame: its slice id and status code. */
    private record Answer(long sliceId, int status) {
        static Answer read(Socket socket) throws IOException {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] frame = new byte[in.readInt()];
            in.readFully(frame);
            ByteBuffer b = ByteBuffer.wrap(frame);
            assertThat(b.get(SliceFrame.TYPE)).isEqualTo(SliceFrame.WRITE_ACK);
            return new Answer(b.getLong(SliceFrame.SLICE_ID), b.getShort(SliceFrame.STATUS));
        }
    }
}
