package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The chunks of a payload frame sent with a CRC32C trailer, read as a connection would. */
class ChecksummedPayloadTest {
    private static final int PIECE = ChecksummedPayload.PIECE_BYTES;

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 4097, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 5})
    void chunksMakeOneFrameWhoseTrailerIsThePayloadsCrc(int length) throws Exception {
        ByteBuffer payload = ByteBuffer.allocateDirect(length + 16);
        for (int i = 0; i < payload.capacity(); i++) {
            payload.put(i, (byte) (i * 31 + 7));
        }
        payload.position(8).limit(8 + length); // an unaligned view: only these bytes are sent
        ByteBuf header = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT,
                (byte) (SliceFrame.WRITE | SliceFrame.CRC_TRAILER), 42, 1000, length, 0, SliceFrame.Status.OK,
                SliceFrame.name("seg"));
        int headerBytes = header.readableBytes();
        ChecksummedPayload input = new ChecksummedPayload(header, payload);

        List<Integer> sizes = new ArrayList<>();
        ByteBuf frame = Unpooled.buffer();
        ByteBuf chunk;
        while ((chunk = input.readChunk(UnpooledByteBufAllocator.DEFAULT)) != null) {
            sizes.add(chunk.readableBytes());
            frame.writeBytes(chunk);
            chunk.release();
        }
        assertThat(input.isEndOfInput()).isTrue();
        assertThat(input.progress()).isEqualTo(input.length()).isEqualTo(frame.readableBytes());
        assertThat(sizes).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(headerBytes + PIECE));
        assertThat(sizes).last().isEqualTo(SliceFrame.TRAILER_BYTES);

        long frameLength = frame.readUnsignedInt();
        FrameHeader parsed = new FrameHeader().wrap(frame.slice(), frameLength);
        assertThat(parsed.type()).isEqualTo(SliceFrame.WRITE);
        assertThat(parsed.crcTrailer()).isTrue();
        assertThat(parsed.sliceId()).isEqualTo(42);
        assertThat(parsed.bodyLength()).isEqualTo(length);
        frame.skipBytes(SliceFrame.HEADER_BYTES + parsed.nameLength());
        byte[] body = new byte[length];
        frame.readBytes(body);
        assertThat(ByteBuffer.wrap(body)).isEqualTo(payload);
        CRC32C crc = new CRC32C();
        crc.update(body);
        assertThat(frame.readInt()).isEqualTo((int) crc.getValue());
        assertThat(frame.isReadable()).isFalse();
        assertThat(payload.position()).as("the caller's view is left as it was").isEqualTo(8);
    }

    @Test
    void aPayloadSentAloneCarriesItsCrcInTheHeaderAndOneQueuedBehindOthersATrailer() {
        ByteBuffer payload = ByteBuffer.allocateDirect(1000);
        Object alone = ChecksummedPayload.frame(UnpooledByteBufAllocator.DEFAULT, SliceFrame.WRITE, 5, 0,
                SliceFrame.name("seg"), payload, true, 0x1234);
        assertThat(alone).isInstanceOf(ByteBuf.class);
        ByteBuf frame = (ByteBuf) alone;
        FrameHeader parsed = new FrameHeader().wrap(frame.slice(4, frame.readableBytes() - 4), frame.getUnsignedInt(0));
        assertThat(parsed.crcTrailer()).isFalse();
        assertThat(parsed.crc()).isEqualTo(0x1234);
        assertThat(frame.readableBytes()).isEqualTo(4 + SliceFrame.HEADER_BYTES + 3 + 1000);
        frame.release();

        Object queued = ChecksummedPayload.frame(UnpooledByteBufAllocator.DEFAULT, SliceFrame.WRITE, 6, 0,
                SliceFrame.name("seg"), payload, false, 0x1234);
        assertThat(queued).isInstanceOf(ChecksummedPayload.class);
        assertThat(((ChecksummedPayload) queued).length()).isEqualTo(4 + SliceFrame.HEADER_BYTES + 3 + 1000 + 4);
        ((ChecksummedPayload) queued).close();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void closingReleasesAHeaderNotYetSent(boolean startedFirst) throws Exception {
        ByteBuf header = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT,
                (byte) (SliceFrame.WRITE | SliceFrame.CRC_TRAILER), 1, 0, 10, 0, SliceFrame.Status.OK,
                SliceFrame.name("seg"));
        ChecksummedPayload input = new ChecksummedPayload(header, ByteBuffer.allocateDirect(10));
        if (startedFirst) {
            input.readChunk(UnpooledByteBufAllocator.DEFAULT).release(); // the header left with the first piece
        }
        input.close();
        assertThat(header.refCnt()).isZero();
    }

    /** Small payloads leave in one write with the CRC32C in the header even behind others; larger ones only alone. */
    @Test
    void aPayloadOfAtMostOneWriteLeavesWholeWithItsCrcInTheHeader() {
        assertThat(ChecksummedPayload.inOneWrite(false, ChecksummedPayload.ONE_WRITE_BYTES)).isTrue();
        assertThat(ChecksummedPayload.inOneWrite(false, 4096)).isTrue();
        assertThat(ChecksummedPayload.inOneWrite(false, ChecksummedPayload.ONE_WRITE_BYTES + 1)).isFalse();
        assertThat(ChecksummedPayload.inOneWrite(true, 4L << 20)).isTrue();

        ByteBuffer payload = ByteBuffer.allocateDirect(ChecksummedPayload.ONE_WRITE_BYTES);
        int crc = SliceFrame.crc(new CRC32C(), payload);
        Object frame = ChecksummedPayload.frame(UnpooledByteBufAllocator.DEFAULT, SliceFrame.WRITE, 7, 0,
                SliceFrame.name("seg"), payload, true, crc);
        assertThat(frame).isInstanceOf(ByteBuf.class);
        ByteBuf whole = (ByteBuf) frame;
        try {
            long frameLength = whole.readUnsignedInt();
            FrameHeader parsed = new FrameHeader().wrap(whole.slice(), frameLength);
            assertThat(parsed.crcTrailer()).isFalse();
            assertThat(parsed.crc()).isEqualTo(crc);
            assertThat(whole.readableBytes()).isEqualTo(SliceFrame.HEADER_BYTES + parsed.nameLength()
                    + ChecksummedPayload.ONE_WRITE_BYTES);
        } finally {
            whole.release();
        }
    }
}
