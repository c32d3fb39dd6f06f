package dev.ferry.store.sidecar;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.BlockSink;
import dev.ferry.store.client.BlockSource;
import dev.ferry.store.client.BlockStore;
import dev.ferry.store.client.GetResult;
import dev.ferry.store.client.Lanes;
import dev.ferry.store.client.PutResult;
import dev.ferry.store.client.StoreException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link BlockStore} through a sidecar on this host: every lane is one connection on the
 * sidecar's Unix socket with one shared buffer registered on it (a sealed {@link Memfd}, so
 * nothing outlives this process).
 * A put fills a window of blocks into the buffer and sends one {@code PUT}; a get sends one
 * {@code GET} per window and hands the blocks to the sink from the buffer. Block bytes never
 * cross the socket: the sidecar's transfer engine reads and writes the buffer directly.
 *
 * <p>Differences from {@link dev.ferry.store.client.EngineBlockStore}: the sidecar writes one
 * copy per block (on its own node when it has room); a get leases one window at a time, not
 * the whole request; the sidecar checks each block against its committed CRC32C, and the
 * sink receives the CRC32C of the bytes it got, which is then that one; the transfer times
 * reported are the times of the sidecar requests (they include the master's calls).
 *
 * <p>Thread-safe (up to {@code lanes} calls at once). Owns connections and buffers: close it.
 */
public final class SidecarBlockStore implements BlockStore {
    private record Lane(SidecarClient client, Memfd buffer, int id) implements AutoCloseable {
        @Override
        public void close() {
            client.close();
            buffer.close();
        }
    }

    private final Lanes<Lane> lanes;
    private final long bufferBytes;

    private SidecarBlockStore(List<Lane> lanes, long bufferBytes) {
        this.lanes = new Lanes<>(lanes);
        this.bufferBytes = bufferBytes;
    }

    /**
     * Connects {@code lanes} times to the sidecar at {@code socket} and registers a shared
     * buffer of {@code bufferBytes} on each connection.
     *
     * @throws UncheckedIOException when the sidecar cannot be reached or a buffer not created
     * @throws SidecarException     when the sidecar refuses a buffer (quota)
     */
    public static SidecarBlockStore connect(Path socket, long bufferBytes, int lanes) {
        List<Lane> open = new ArrayList<>(lanes);
        try {
            for (int i = 0; i < lanes; i++) {
                open.add(lane(socket, bufferBytes));
            }
        } catch (RuntimeException e) {
            open.forEach(Lane::close);
            throw e;
        }
        return new SidecarBlockStore(open, bufferBytes);
    }

    private static Lane lane(Path socket, long bytes) {
        Memfd buffer = new Memfd(bytes);
        SidecarClient client = null;
        try {
            client = SidecarClient.connect(socket);
            int id = client.registerBuffer(buffer.path(), bytes);
            buffer.memory(); // mapped after registering: a sidecar in this process refuses what it maps already
            return new Lane(client, buffer, id);
        } catch (RuntimeException e) {
            if (client != null) {
                client.close();
            }
            buffer.close();
            throw e;
        }
    }

    @Override
    public int lookupPrefix(BlockKey[] keys) {
        return lanes.with(lane -> call(() -> lane.client().lookupPrefix(keys)));
    }

    @Override
    public PutResult put(BlockKey[] keys, long blockBytes, BlockSource source) {
        int window = window(blockBytes);
        return lanes.with(lane -> {
            int written = 0;
            long nanos = 0;
            for (int done = 0; done < keys.length; done += window) {
                Window w = Window.of(keys, done, Math.min(window, keys.length - done), blockBytes);
                for (int i = 0; i < w.keys.length; i++) {
                    source.fill(w.keys[i], lane.buffer().memory().asSlice(w.offsets[i], blockBytes));
                }
                long start = System.nanoTime();
                byte[] results = call(() -> lane.client().put(w.keys, lane.id(), w.offsets, w.sizes));
                nanos += System.nanoTime() - start;
                for (byte r : results) {
                    written += r == 0 ? 1 : 0;
                }
            }
            return new PutResult(written, keys.length - written, written * blockBytes, nanos);
        });
    }

    @Override
    public GetResult get(BlockKey[] keys, long blockBytes, BlockSink sink) {
        int window = window(blockBytes);
        return lanes.with(lane -> {
            long bytes = 0;
            long nanos = 0;
            for (int done = 0; done < keys.length; done += window) {
                Window w = Window.of(keys, done, Math.min(window, keys.length - done), blockBytes);
                long start = System.nanoTime();
                long[] lengths = call(() -> lane.client().get(w.keys, lane.id(), w.offsets, w.sizes));
                nanos += System.nanoTime() - start;
                for (int i = 0; i < w.keys.length; i++) {
                    if (lengths[i] < 0) {
                        throw new StoreException("block key " + w.keys[i] + " is not in the store");
                    }
                    MemorySegment block = lane.buffer().memory().asSlice(w.offsets[i], lengths[i]);
                    sink.accept(w.keys[i], block, BlockContent.crc32c(block));
                    bytes += lengths[i];
                }
            }
            return new GetResult(keys.length, bytes, nanos);
        });
    }

    /** One request's blocks: {@code keys[i]} in the buffer slot at {@code offsets[i]}, of {@code sizes[i]} bytes. */
    private record Window(BlockKey[] keys, long[] offsets, long[] sizes) {
        static Window of(BlockKey[] all, int from, int n, long blockBytes) {
            long[] offsets = new long[n];
            long[] sizes = new long[n];
            for (int i = 0; i < n; i++) {
                offsets[i] = i * blockBytes;
                sizes[i] = blockBytes;
            }
            return new Window(Arrays.copyOfRange(all, from, from + n), offsets, sizes);
        }
    }

    private int window(long blockBytes) {
        if (blockBytes < 1 || blockBytes > bufferBytes) {
            throw new IllegalArgumentException("a shared buffer of " + bufferBytes + " bytes cannot hold a block of "
                    + blockBytes + " bytes");
        }
        return (int) Math.min(bufferBytes / blockBytes, 1024);
    }

    private static <T> T call(java.util.function.Supplier<T> request) {
        try {
            return request.get();
        } catch (SidecarException | UncheckedIOException e) {
            throw new StoreException("sidecar: " + e.getMessage(), e);
        }
    }

    /** Empty: the sidecar's engine moves the bytes, this process copies them through shared memory. */
    @Override
    public java.util.List<dev.ferry.transfer.metrics.LinkTraffic> traffic() {
        return java.util.List.of();
    }

    @Override
    public void close() {
        lanes.close();
    }
}
