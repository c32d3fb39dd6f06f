package dev.ferry.store.gpu;

import dev.ferry.nativemem.device.CopyCompletion;
import dev.ferry.nativemem.device.DeviceException;
import dev.ferry.nativemem.device.DeviceKind;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.DevicePool;
import dev.ferry.nativemem.device.DeviceStream;
import dev.ferry.nativemem.device.HostDeviceMemory;
import dev.ferry.nativemem.device.HostRegistration;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * Host device memory whose asynchronous copies wait at a gate that the test holds and opens,
 * so that "a copy is in flight" is a state a test can stand in, without timing. Copies run with
 * {@link HostDeviceMemory}'s own synchronous copies once the gate opens, in stream order.
 */
final class GatedDeviceMemory implements DeviceMemory {
    private final HostDeviceMemory host;
    private final Semaphore gate = new Semaphore(1);

    GatedDeviceMemory(long capacityBytes) {
        host = new HostDeviceMemory(capacityBytes);
    }

    /** Copies queued from now on wait until {@link #open()}. */
    void hold() throws InterruptedException {
        gate.acquire();
    }

    /** Lets waiting and later copies run. */
    void open() {
        gate.release();
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.HOST;
    }

    @Override
    public String describe() {
        return "gated " + host.describe();
    }

    @Override
    public long freeBytes() {
        return host.freeBytes();
    }

    @Override
    public DevicePool allocate(long bytes) {
        return new GatedPool(host.allocate(bytes));
    }

    @Override
    public DeviceStream openStream() {
        return new GatedStream();
    }

    @Override
    public HostRegistration register(MemorySegment range) {
        return host.register(range);
    }

    @Override
    public void close() {
        host.close();
    }

    private final class GatedStream implements DeviceStream {
        private final ExecutorService thread = Executors.newSingleThreadExecutor();
        private volatile CompletableFuture<Void> last = CompletableFuture.completedFuture(null);

        CopyCompletion submit(Runnable copy) {
            CompletableFuture<Void> future = CompletableFuture.runAsync(() -> {
                gate.acquireUninterruptibly();
                gate.release();
                copy.run();
            }, thread);
            last = future;
            return new CopyCompletion() {
                @Override
                public boolean isDone() {
                    return future.isDone();
                }

                @Override
                public void await() {
                    try {
                        future.join();
                    } catch (CompletionException e) {
                        throw new DeviceException("copy failed: " + e.getCause(), e.getCause());
                    }
                }
            };
        }

        @Override
        public void synchronize() {
            last.join();
        }

        @Override
        public void close() {
            thread.close();
        }
    }

    private final class GatedPool extends DevicePool {
        private final DevicePool inner;

        GatedPool(DevicePool inner) {
            super(GatedDeviceMemory.this, inner.bytes());
            this.inner = inner;
        }

        @Override
        protected CopyCompletion hostToDevice(long offset, MemorySegment src, DeviceStream stream) {
            return ((GatedStream) stream).submit(() -> inner.copyIn(offset, src));
        }

        @Override
        protected CopyCompletion deviceToHost(long offset, MemorySegment dst, DeviceStream stream) {
            return ((GatedStream) stream).submit(() -> inner.copyOut(offset, dst));
        }

        @Override
        protected CopyCompletion deviceToDevice(long offset, DevicePool target, long targetOffset, long length,
                                                DeviceStream stream) {
            throw new UnsupportedOperationException("not used by the GPU tier");
        }

        @Override
        protected void free() {
            inner.close();
        }
    }
}
