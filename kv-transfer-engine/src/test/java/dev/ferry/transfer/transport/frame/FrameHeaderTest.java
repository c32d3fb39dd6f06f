package dev.ferry.transfer.transport.frame;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The {@link SliceFrame#CRC_TRAILER} flag as {@link FrameHeader#wrap} reads it, per frame type, and the version check. */
class FrameHeaderTest {
    private static final byte[] NAME = SliceFrame.name("n/dram");

    @Test
    void aPayloadFrameWithTheFlagCountsTheTrailerInItsLength() {
        ByteBuf frame = frame((byte) (SliceFrame.WRITE | SliceFrame.CRC_TRAILER), 1000, SliceFrame.Status.OK, NAME);
        try {
            long length = frame.getUnsignedInt(0);
            FrameHeader header = wrap(frame, length);
            assertThat(header.type()).isEqualTo(SliceFrame.WRITE);
            assertThat(header.crcTrailer()).isTrue();
            assertThat(header.trailerBytes()).isEqualTo(SliceFrame.TRAILER_BYTES);
            assertThat(length).isEqualTo(SliceFrame.HEADER_BYTES + NAME.length + 1000 + SliceFrame.TRAILER_BYTES);
            assertThatThrownBy(() -> wrap(frame, length - SliceFrame.TRAILER_BYTES))
                    .isInstanceOf(MalformedFrameException.class).hasMessageContaining("header says");
        } finally {
            frame.release();
        }
    }

    @Test
    void aReadWithTheFlagAsksForATrailerAndCarriesNone() {
        ByteBuf frame = frame((byte) (SliceFrame.READ | SliceFrame.CRC_TRAILER), 1 << 20, SliceFrame.Status.OK, NAME);
        try {
            long length = frame.getUnsignedInt(0);
            FrameHeader header = wrap(frame, length);
            assertThat(header.type()).isEqualTo(SliceFrame.READ);
            assertThat(header.crcTrailer()).isTrue();
            assertThat(header.trailerBytes()).isZero();
            assertThat(header.bodyBytes()).isZero();
            assertThat(length).isEqualTo(SliceFrame.HEADER_BYTES + NAME.length);
        } finally {
            frame.release();
        }
    }

    @Test
    void theFlagOnAnAcknowledgementOrAnErrorAnswerIsMalformed() {
        for (byte type : new byte[] {SliceFrame.WRITE_ACK, SliceFrame.NOTIFY_ACK}) {
            ByteBuf ack = frame((byte) (type | SliceFrame.CRC_TRAILER), 0, SliceFrame.Status.OK, null);
            try {
                assertThatThrownBy(() -> wrap(ack, ack.getUnsignedInt(0)))
                        .isInstanceOf(MalformedFrameException.class).hasMessageContaining("trailer on frame type " + type);
            } finally {
                ack.release();
            }
        }
        ByteBuf error = frame((byte) (SliceFrame.READ_DATA | SliceFrame.CRC_TRAILER), 10, SliceFrame.Status.OUT_OF_BOUNDS,
                null);
        try {
            assertThatThrownBy(() -> wrap(error, error.getUnsignedInt(0)))
                    .isInstanceOf(MalformedFrameException.class).hasMessageContaining("with status OUT_OF_BOUNDS");
        } finally {
            error.release();
        }
    }

    @Test
    void aFrameOfAnotherVersionIsMalformedAndNamesItsVersion() {
        ByteBuf frame = frame(SliceFrame.WRITE, 10, SliceFrame.Status.OK, NAME);
        try {
            frame.setByte(4 + 2, 1); // version 1: a peer from before the trailer
            assertThatThrownBy(() -> wrap(frame, frame.getUnsignedInt(0)))
                    .isInstanceOf(MalformedFrameException.class).hasMessage("unsupported frame version 1");
        } finally {
            frame.release();
        }
    }

    private static ByteBuf frame(byte type, int bodyLength, SliceFrame.Status status, byte[] name) {
        return SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, 7, 0, bodyLength, 0, status, name);
    }

    private static FrameHeader wrap(ByteBuf frame, long frameLength) {
        return new FrameHeader().wrap(frame.slice(4, frame.readableBytes() - 4), frameLength);
    }
}
