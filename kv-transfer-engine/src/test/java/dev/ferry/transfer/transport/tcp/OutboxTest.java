package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Frames sent on a connection leave in order, whole, with one flush per turn of its event loop. */
class OutboxTest {
    /** Counts the flushes that reach the socket. */
    private static final class Flushes extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
            ctx.flush();
        }
    }

    @Test
    void aBatchSentBeforeTheLoopTurnsLeavesInOrderWithOneFlush() {
        Flushes flushes = new Flushes();
        EmbeddedChannel channel = new EmbeddedChannel(flushes);
        Outbox outbox = new Outbox(channel);
        for (int i = 0; i < 16; i++) {
            outbox.send(Unpooled.buffer(4).writeInt(i));
        }
        assertThat(channel.outboundMessages()).as("nothing written before the loop's turn").isEmpty();
        channel.runPendingTasks();
        assertThat(flushes.count).isEqualTo(1);
        assertThat(drain(channel)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

        outbox.send(Unpooled.buffer(4).writeInt(16));
        channel.runPendingTasks();
        assertThat(flushes.count).as("a frame sent after a turn gets a turn of its own").isEqualTo(2);
        assertThat(drain(channel)).containsExactly(16);
        assertThat(channel.finish()).isFalse();
    }

    @Test
    void aWholeFrameIsChecksummedOnTheLoopBeforeItIsWritten() {
        EmbeddedChannel channel = new EmbeddedChannel();
        Outbox outbox = new Outbox(channel);
        java.nio.ByteBuffer payload = java.nio.ByteBuffer.allocateDirect(4096);
        for (int i = 0; i < payload.capacity(); i++) {
            payload.put(i, (byte) (i * 7));
        }
        outbox.send(new WholeFrame(dev.ferry.transfer.transport.frame.SliceFrame.header(channel.alloc(),
                dev.ferry.transfer.transport.frame.SliceFrame.WRITE, 3, 0, 4096, 0,
                dev.ferry.transfer.transport.frame.SliceFrame.Status.OK,
                dev.ferry.transfer.transport.frame.SliceFrame.name("seg")), payload));
        channel.runPendingTasks();
        ByteBuf frame = channel.readOutbound();
        var header = new dev.ferry.transfer.transport.frame.FrameHeader().wrap(frame.slice(4, frame.readableBytes() - 4),
                frame.getUnsignedInt(0));
        assertThat(header.crc()).isEqualTo(dev.ferry.transfer.transport.frame.SliceFrame.crc(
                new java.util.zip.CRC32C(), payload));
        assertThat(header.crcTrailer()).isFalse();
        assertThat(frame.readableBytes()).isEqualTo(4 + dev.ferry.transfer.transport.frame.SliceFrame.HEADER_BYTES
                + header.nameLength() + 4096);
        frame.release();
        assertThat(channel.finish()).isFalse();
    }

    private static List<Integer> drain(EmbeddedChannel channel) {
        List<Integer> got = new ArrayList<>();
        for (ByteBuf b = channel.readOutbound(); b != null; b = channel.readOutbound()) {
            got.add(b.readInt());
            b.release();
        }
        return got;
    }
}
