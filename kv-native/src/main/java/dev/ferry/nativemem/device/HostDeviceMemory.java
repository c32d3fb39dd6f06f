package dev.ferry.nativemem.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Off-heap host memory standing in for a GPU, for machines without CUDA: pools are page-aligned
 * {@code java.lang.foreign} allocations, copies are {@link MemorySegment#copy memory copies},
 * and a stream is one thread that runs its copies in order, so asynchronous completion is real.
 * It is no faster than DRAM; it exists so that the GPU tier's logic runs and is tested in CI.
 *
 * <p>Its "device" holds {@code capacityBytes}; a pool beyond what is left throws
 * {@link DeviceOutOfMemoryException}. Registration does not page-lock anything
 * ({@link HostRegistration#pageLocked()} is false). Thread-safe.
 */
public final class HostDeviceMemory implements DeviceMemory {
    private static final long ALIGNMENT = 4096;
    private static final AtomicInteger STREAMS = new AtomicInteger();

    private final long capacityBytes;
    private final String note;
    private final AtomicLong allocated = new AtomicLong();
    private final Owned owned = new Owned("host device memory");

    /**
     * @param capacityBytes what the stand-in device holds, bytes, at least 1
     * @throws IllegalArgumentException when {@code capacityBytes < 1}
     */
    public HostDeviceMemory(long capacityBytes) {
        this(capacityBytes, "");
    }

    /** @param note why host memory stands in (e.g. why CUDA was not used), shown by {@link #describe()} */
    HostDeviceMemory(long capacityBytes, String note) {
        if (capacityBytes < 1) {
            throw new IllegalArgumentException("host device memory needs at least 1 byte, was " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
        this.note = note;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.HOST;
    }

    @Override
    public String describe() {
        return "host memory standing in for a GPU, " + capacityBytes + " bytes" + (note.isEmpty() ? "" : " (" + note + ")");
    }

    @Override
    public long freeBytes() {
        owned.requireOpen();
        return capacityBytes - allocated.get();
    }

    @Override
    public DevicePool allocate(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("pool size must be at least 1 byte, was " + bytes);
        }
        owned.requireOpen();
        long now = allocated.addAndGet(bytes);
        if (now > capacityBytes) {
            allocated.addAndGet(-bytes);
            throw new DeviceOutOfMemoryException("cannot allocate a pool of " + bytes + " bytes: "
                    + (capacityBytes - now + bytes) + " of " + capacityBytes + " bytes free in host device memory");
        }
        Arena arena = Arena.ofShared();
        HostPool pool;
        try {
            pool = new HostPool(arena, arena.allocate(bytes, ALIGNMENT));
        } catch (RuntimeException | Error e) {
            arena.close();
            allocated.addAndGet(-bytes);
            throw e;
        }
        return owned.adopt(pool);
    }

    @Override
    public DeviceStream openStream() {
        owned.requireOpen();
        return owned.adopt(new HostStream());
    }

    @Override
    public HostRegistration register(MemorySegment range) {
        if (!range.isNative() || range.byteSize() == 0) {
            throw new IllegalArgumentException("only a non-empty native range can be registered, was " + range);
        }
        return owned.adopt(new Registration(range));
    }

    @Override
    public void close() {
        owned.closeAll();
    }

    private HostStream own(DeviceStream stream) {
        if (stream instanceof HostStream host && host.owner() == this) {
            return host;
        }
        throw new IllegalArgumentException("stream belongs to another device memory: " + stream);
    }

    private final class HostPool extends DevicePool {
        private final Arena arena;
        private final MemorySegment memory;

        HostPool(Arena arena, MemorySegment memory) {
            super(HostDeviceMemory.this, memory.byteSize());
            this.arena = arena;
            this.memory = memory;
        }

        @Override
        protected CopyCompletion hostToDevice(long offset, MemorySegment src, DeviceStream stream) {
            return run(stream, () -> MemorySegment.copy(src, 0, memory, offset, src.byteSize()));
        }

        @Override
        protected CopyCompletion deviceToHost(long offset, MemorySegment dst, DeviceStream stream) {
            return run(stream, () -> MemorySegment.copy(memory, offset, dst, 0, dst.byteSize()));
        }

        @Override
        protected CopyCompletion deviceToDevice(long offset, DevicePool target, long targetOffset, long length,
                                                DeviceStream stream) {
            MemorySegment to = ((HostPool) target).memory;
            return run(stream, () -> MemorySegment.copy(memory, offset, to, targetOffset, length));
        }

        private CopyCompletion run(DeviceStream stream, Runnable copy) {
            if (stream == null) {
                copy.run();
                return CopyCompletion.DONE;
            }
            return own(stream).submit(copy);
        }

        @Override
        protected void free() {
            owned.remove(this);
            try {
                arena.close();
            } finally {
                allocated.addAndGet(-bytes());
            }
        }
    }

    private final class HostStream implements DeviceStream {
        private final ExecutorService thread;
        private volatile boolean closed;
        private volatile CompletableFuture<Void> last = CompletableFuture.completedFuture(null);

        HostStream() {
            String name = "ferry-host-stream-" + STREAMS.incrementAndGet();
            thread = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, name);
                t.setDaemon(true);
                return t;
            });
        }

        HostDeviceMemory owner() {
            return HostDeviceMemory.this;
        }

        synchronized CopyCompletion submit(Runnable copy) {
            if (closed) {
                throw new IllegalStateException("stream is closed");
            }
            CompletableFuture<Void> future = CompletableFuture.runAsync(copy, thread);
            last = future;
            return new FutureCompletion(future);
        }

        @Override
        public void synchronize() {
            if (closed) {
                throw new IllegalStateException("stream is closed");
            }
            new FutureCompletion(last).await();
        }

        @Override
        public void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            owned.remove(this);
            thread.close(); // runs what was queued, then stops
        }
    }

    private record FutureCompletion(CompletableFuture<Void> future) implements CopyCompletion {
        @Override
        public boolean isDone() {
            return future.isDone();
        }

        @Override
        public void await() {
            try {
                future.join();
            } catch (CompletionException e) {
                throw new DeviceException("asynchronous copy failed: " + e.getCause(), e.getCause());
            }
        }
    }

    private final class Registration implements HostRegistration {
        private final MemorySegment range;

        Registration(MemorySegment range) {
            this.range = range;
        }

        @Override
        public MemorySegment range() {
            return range;
        }

        @Override
        public boolean pageLocked() {
            return false;
        }

        @Override
        public void close() {
            owned.remove(this);
        }
    }
}
