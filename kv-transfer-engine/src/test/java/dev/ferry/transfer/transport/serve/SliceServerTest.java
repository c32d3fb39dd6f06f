package dev.ferry.transfer.transport.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The serving core that TCP and Aeron share, driven with real frame headers and a recording answer sink. */
class SliceServerTest {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory = arena.allocate(4096);
    private final LocalSegments segments = new LocalSegments();
    private final List<String> notes = new ArrayList<>();
    private final SliceServer server = new SliceServer(segments, (segment, message) -> notes.add(segment + ":"
            + new String(message)));
    private final Recorded answers = new Recorded();
    private final ServedRequest request = new ServedRequest();

    SliceServerTest() {
        segments.register("s", memory);
    }

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void aWriteInRangeGoesStraightIntoTheSegmentAndIsAcknowledgedWhenItsCrcMatches() {
        byte[] body = "hello".getBytes();
        MemorySegment destination = begin(SliceFrame.WRITE, 1, "s", 100, body.length);
        assertThat(destination.address()).isEqualTo(memory.address() + 100);
        MemorySegment.copy(MemorySegment.ofArray(body), 0, destination, 0, body.length);
        server.finish(request, crc(body), crc(body), answers);
        assertThat(answers.last).isEqualTo("ack 2 1 100");
        assertThat(server.counters().bytesWritten()).isEqualTo(body.length);
    }

    @Test
    void aWriteWhoseCrcDoesNotMatchIsRefusedForResendAndNotCounted() {
        begin(SliceFrame.WRITE, 2, "s", 0, 8);
        server.finish(request, 1234, 4321, answers);
        assertThat(answers.last).isEqualTo("refuse 1 2 0 CRC_MISMATCH payload CRC32C mismatch");
        assertThat(server.counters().crcMismatches()).isEqualTo(1);
        assertThat(server.counters().bytesWritten()).isZero();
    }

    @Test
    void requestsOutsideTheSegmentOrToAnUnknownSegmentAreRefusedAndTheirBodyDropped() {
        assertThat(begin(SliceFrame.WRITE, 3, "s", 4090, 8)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).startsWith("refuse 1 3 4090 OUT_OF_BOUNDS range [4090, 4098) outside segment 's'");

        assertThat(begin(SliceFrame.READ, 4, "s", -1, 8)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).startsWith("refuse 3 4 -1 OUT_OF_BOUNDS");

        assertThat(begin(SliceFrame.READ, 5, "nope", 0, 8)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).isEqualTo("refuse 3 5 0 UNKNOWN_SEGMENT unknown segment 'nope'");
        assertThat(server.counters().refusals()).isEqualTo(3);
    }

    @Test
    void aReadIsAnsweredFromTheSegmentWhereItLiesWithTheTrailerTheInitiatorAskedFor() {
        assertThat(begin((byte) (SliceFrame.READ | SliceFrame.CRC_TRAILER), 6, "s", 64, 32)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).isEqualTo("data 6 64 32 trailer=true");
        assertThat(answers.data.address()).isEqualTo(memory.address() + 64);
        assertThat(server.counters().bytesRead()).isEqualTo(32);
    }

    @Test
    void aSegmentUnregisteredAfterItsNameWasResolvedIsNeverServedAgain() {
        begin(SliceFrame.READ, 7, "s", 0, 16);
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).startsWith("data 7");
        segments.unregister("s");
        assertThat(begin(SliceFrame.READ, 8, "s", 0, 16)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).isEqualTo("refuse 3 8 0 UNKNOWN_SEGMENT unknown segment 's'");
        segments.register("s", memory.asSlice(0, 1024));
        begin(SliceFrame.READ, 9, "s", 2000, 16);
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).startsWith("refuse 3 9 2000 OUT_OF_BOUNDS"); // the new registration's size
    }

    @Test
    void notificationsAreHandedOverWhenTheirCrcMatchesAndRefusedWhenTooLongOrCorrupt() {
        byte[] message = "ready".getBytes();
        MemorySegment into = begin(SliceFrame.NOTIFY, 10, "s", 0, message.length);
        MemorySegment.copy(MemorySegment.ofArray(message), 0, into, 0, message.length);
        server.finish(request, crc(message), crc(message), answers);
        assertThat(answers.last).isEqualTo("ack 6 10 0");
        assertThat(notes).containsExactly("s:ready");

        begin(SliceFrame.NOTIFY, 11, "s", 0, message.length);
        server.finish(request, 1, 2, answers);
        assertThat(answers.last).isEqualTo("refuse 5 11 0 CRC_MISMATCH notification CRC32C mismatch");

        assertThat(begin(SliceFrame.NOTIFY, 12, "s", 0, SliceFrame.MAX_NOTIFICATION_BYTES + 1)).isNull();
        server.finish(request, 0, 0, answers);
        assertThat(answers.last).startsWith("refuse 5 12 0 OUT_OF_BOUNDS notification of");
        assertThat(notes).hasSize(1);
    }

    private MemorySegment begin(byte type, long sliceId, String segment, long offset, int length) {
        ByteBuf frame = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, sliceId, offset, length, 0,
                SliceFrame.Status.OK, SliceFrame.name(segment));
        try {
            long frameLength = frame.getUnsignedInt(0);
            FrameHeader header = new FrameHeader().wrap(frame.slice(4, frame.readableBytes() - 4), frameLength);
            return server.begin(request, header);
        } finally {
            frame.release();
        }
    }

    private static int crc(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    private static final class Recorded implements Answers {
        String last;
        MemorySegment data;

        @Override
        public void ack(byte ackType, long sliceId, long offset) {
            last = "ack " + ackType + " " + sliceId + " " + offset;
        }

        @Override
        public void data(long sliceId, long offset, MemorySegment bytes, boolean trailer) {
            data = bytes;
            last = "data " + sliceId + " " + offset + " " + bytes.byteSize() + " trailer=" + trailer;
        }

        @Override
        public void refuse(byte requestType, long sliceId, long offset, SliceFrame.Status status, String why) {
            last = "refuse " + requestType + " " + sliceId + " " + offset + " " + status + " " + why;
        }
    }
}
