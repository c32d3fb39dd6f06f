package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.transport.SessionFences;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.SliceServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The server answers every request that one read brought, then flushes once. */
class AnswerFlushTest {
    private static final class Flushes extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
            ctx.flush();
        }
    }

    @Test
    void theAnswersToOneReadsRequestsLeaveWithOneFlush() {
        int block = 4096;
        int requests = 16;
        try (Slab memory = Slab.allocate((long) block * requests)) {
            LocalSegments segments = new LocalSegments();
            segments.register("seg", memory.memory());
            SliceServer server = new SliceServer(segments, (segment, message) -> { });
            Flushes flushes = new Flushes();
            EmbeddedChannel connection = new EmbeddedChannel(flushes,
                    new SliceServerHandler(server, new TcpCounters(server.counters()), new ConnectionFences(),
                            SessionFences.NONE));
            ByteBuf read = Unpooled.buffer();
            ByteBuffer payload = ByteBuffer.allocate(block);
            int crc = SliceFrame.crc(new CRC32C(), payload);
            for (int i = 0; i < requests; i++) {
                ByteBuf header = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, SliceFrame.WRITE, i,
                        (long) i * block, block, crc, SliceFrame.Status.OK, SliceFrame.name("seg"));
                read.writeBytes(header).writeBytes(payload.duplicate());
                header.release();
            }
            connection.writeInbound(read); // one read: its frames, then the end of the read
            assertThat(flushes.count).isEqualTo(1);
            for (int i = 0; i < requests; i++) {
                ByteBuf ack = connection.readOutbound();
                FrameHeader h = new FrameHeader().wrap(ack.slice(4, ack.readableBytes() - 4), ack.getUnsignedInt(0));
                assertThat(h.type()).isEqualTo(SliceFrame.WRITE_ACK);
                assertThat(h.sliceId()).isEqualTo(i);
                assertThat(h.status()).isEqualTo(SliceFrame.Status.OK);
                ack.release();
            }
            assertThat((Object) connection.readOutbound()).isNull();
            connection.finishAndReleaseAll();
        }
    }
}
