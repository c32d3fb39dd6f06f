package dev.ferry.nativemem.device;

import dev.ferry.nativemem.MachineInfo;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * GPU memory of one CUDA device through JCuda's driver API: pools are {@code cuMemAlloc}
 * ranges, streams are non-blocking {@code CUstream}s, each asynchronous copy records an event
 * that its {@link CopyCompletion} queries, and {@link #register} is {@code cuMemHostRegister}.
 * It uses the device's primary context, made current on a calling thread before its first call
 * there (and again after a call through another {@code CudaDeviceMemory}); code that switches a
 * thread's current CUDA context behind its back must switch it back.
 *
 * <p>Loading is lazy: this class loads on any machine; {@link #open(int)} first checks that
 * {@code libcuda.so.1} loads ({@link MachineInfo}), and only then touches JCuda, whose native
 * library links against the driver. Without a driver or a device it throws
 * {@link DeviceUnavailableException}. Driver errors become {@link DeviceException} with the
 * {@code CUresult} name. Thread-safe.
 */
public final class CudaDeviceMemory implements DeviceMemory {
    /** The context this class last made current on each thread. */
    private static final ThreadLocal<CUcontext> BOUND = new ThreadLocal<>();

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final String name;
    private final long totalBytes;
    private final Owned owned;

    private CudaDeviceMemory(int ordinal, CUdevice device, CUcontext context, String name, long totalBytes) {
        this.ordinal = ordinal;
        this.device = device;
        this.context = context;
        this.name = name;
        this.totalBytes = totalBytes;
        this.owned = new Owned("CUDA device " + ordinal);
    }

    /**
     * Opens device {@code ordinal} (0 for the first GPU).
     *
     * @throws DeviceUnavailableException when there is no CUDA driver, JCuda's native library
     *                                    does not load, or no such device
     * @throws DeviceException            when the driver fails otherwise
     */
    public static CudaDeviceMemory open(int ordinal) {
        if (!MachineInfo.probe().cudaDriver()) {
            throw new DeviceUnavailableException("no CUDA driver: libcuda.so.1 does not load on this machine");
        }
        loadDriver();
        try {
            check(JCudaDriver.cuInit(0), "cuInit");
            int[] count = new int[1];
            check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
            if (ordinal < 0 || ordinal >= count[0]) {
                throw new DeviceUnavailableException("no CUDA device " + ordinal + ": the driver sees " + count[0]);
            }
            CUdevice device = new CUdevice();
            check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet");
            byte[] name = new byte[256];
            check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
            long[] total = new long[1];
            check(JCudaDriver.cuDeviceTotalMem(total, device), "cuDeviceTotalMem");
            CUcontext context = new CUcontext();
            check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
            return new CudaDeviceMemory(ordinal, device, context, cString(name), total[0]);
        } catch (DeviceUnavailableException e) {
            throw e;
        } catch (DeviceException e) {
            if (e.getMessage().contains("CUDA_ERROR_NO_DEVICE")) {
                throw new DeviceUnavailableException("no CUDA device: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /**
     * Loads JCuda's driver binding (its native library needs {@code libcuda.so.1}).
     *
     * @throws DeviceUnavailableException when it does not load
     */
    static void loadDriver() {
        try {
            JCudaDriver.setExceptionsEnabled(false);
        } catch (LinkageError e) {
            throw new DeviceUnavailableException("JCuda's driver library does not load: " + e, e);
        }
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public String describe() {
        return "CUDA device " + ordinal + ": " + name + ", " + totalBytes + " bytes";
    }

    @Override
    public long freeBytes() {
        owned.requireOpen();
        bind();
        long[] free = new long[1];
        long[] total = new long[1];
        check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return free[0];
    }

    @Override
    public DevicePool allocate(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("pool size must be at least 1 byte, was " + bytes);
        }
        owned.requireOpen();
        bind();
        CUdeviceptr base = new CUdeviceptr();
        int rc = JCudaDriver.cuMemAlloc(base, bytes);
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            throw new DeviceOutOfMemoryException("cannot allocate a pool of " + bytes + " bytes on " + describe()
                    + ": CUDA_ERROR_OUT_OF_MEMORY");
        }
        check(rc, "cuMemAlloc(" + bytes + ")");
        return owned.adopt(new CudaPool(base, bytes));
    }

    @Override
    public DeviceStream openStream() {
        owned.requireOpen();
        bind();
        CUstream stream = new CUstream();
        check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        return owned.adopt(new CudaStream(stream));
    }

    @Override
    public HostRegistration register(MemorySegment range) {
        if (!range.isNative() || range.byteSize() == 0) {
            throw new IllegalArgumentException("only a non-empty native range can be registered, was " + range);
        }
        owned.requireOpen();
        bind();
        HostPointer pointer = new HostPointer(range.address());
        // PORTABLE: page-locked for every context, not only the primary one of this device.
        check(JCudaDriver.cuMemHostRegister(pointer, range.byteSize(), JCudaDriver.CU_MEMHOSTREGISTER_PORTABLE),
                "cuMemHostRegister(" + range.byteSize() + " bytes)");
        return owned.adopt(new Registration(range, pointer));
    }

    @Override
    public synchronized void close() {
        if (owned.isClosed()) {
            return;
        }
        try {
            owned.closeAll();
        } finally {
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            if (BOUND.get() == context) {
                BOUND.remove();
            }
        }
    }

    private void bind() {
        // A JNI call per copy saved: Ferry's threads run no other CUDA code between its calls.
        if (BOUND.get() != context) {
            check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            BOUND.set(context);
        }
    }

    private CudaStream own(DeviceStream stream) {
        if (stream instanceof CudaStream cuda && cuda.owner() == this) {
            cuda.checkOpen(); // before a copy is queued on it
            return cuda;
        }
        throw new IllegalArgumentException("stream belongs to another device memory: " + stream);
    }

    /** @throws DeviceException naming the call and the CUresult when {@code rc} is not success */
    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new DeviceException(call + " failed: " + CUresult.stringFor(rc));
        }
    }

    private static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    /** A host address as a JCuda pointer (JCuda's own factories take only arrays and buffers). */
    static final class HostPointer extends Pointer {
        HostPointer(long address) {
            super(address);
        }
    }

    private final class CudaPool extends DevicePool {
        private final CUdeviceptr base;

        CudaPool(CUdeviceptr base, long bytes) {
            super(CudaDeviceMemory.this, bytes);
            this.base = base;
        }

        @Override
        protected CopyCompletion hostToDevice(long offset, MemorySegment src, DeviceStream stream) {
            bind();
            Pointer host = new HostPointer(src.address());
            if (stream == null) {
                check(JCudaDriver.cuMemcpyHtoD(base.withByteOffset(offset), host, src.byteSize()), "cuMemcpyHtoD");
                return CopyCompletion.DONE;
            }
            CudaStream s = own(stream);
            check(JCudaDriver.cuMemcpyHtoDAsync(base.withByteOffset(offset), host, src.byteSize(), s.stream),
                    "cuMemcpyHtoDAsync");
            return s.record();
        }

        @Override
        protected CopyCompletion deviceToHost(long offset, MemorySegment dst, DeviceStream stream) {
            bind();
            Pointer host = new HostPointer(dst.address());
            if (stream == null) {
                check(JCudaDriver.cuMemcpyDtoH(host, base.withByteOffset(offset), dst.byteSize()), "cuMemcpyDtoH");
                return CopyCompletion.DONE;
            }
            CudaStream s = own(stream);
            check(JCudaDriver.cuMemcpyDtoHAsync(host, base.withByteOffset(offset), dst.byteSize(), s.stream),
                    "cuMemcpyDtoHAsync");
            return s.record();
        }

        @Override
        protected CopyCompletion deviceToDevice(long offset, DevicePool target, long targetOffset, long length,
                                                DeviceStream stream) {
            bind();
            CUdeviceptr to = ((CudaPool) target).base.withByteOffset(targetOffset);
            if (stream == null) {
                check(JCudaDriver.cuMemcpyDtoD(to, base.withByteOffset(offset), length), "cuMemcpyDtoD");
                return CopyCompletion.DONE;
            }
            CudaStream s = own(stream);
            check(JCudaDriver.cuMemcpyDtoDAsync(to, base.withByteOffset(offset), length, s.stream), "cuMemcpyDtoDAsync");
            return s.record();
        }

        @Override
        protected CopyCompletion queueDeviceToDevice(long offset, long targetOffset, long length, DeviceStream stream) {
            bind();
            CudaStream s = own(stream);
            // No event: the batched copy's last step records the one its completion waits on.
            check(JCudaDriver.cuMemcpyDtoDAsync(base.withByteOffset(targetOffset), base.withByteOffset(offset), length,
                    s.stream), "cuMemcpyDtoDAsync");
            return null;
        }

        @Override
        protected void free() {
            owned.remove(this);
            bind();
            check(JCudaDriver.cuMemFree(base), "cuMemFree");
        }
    }

    /** A stream and the events its completions use, reused once observed done. */
    private final class CudaStream implements DeviceStream {
        private final CUstream stream;
        private final ArrayDeque<CUevent> idle = new ArrayDeque<>();
        private final List<CUevent> all = new ArrayList<>();
        private boolean closed;

        CudaStream(CUstream stream) {
            this.stream = stream;
        }

        CudaDeviceMemory owner() {
            return CudaDeviceMemory.this;
        }

        /** Records an event after the copies queued so far. */
        synchronized CopyCompletion record() {
            requireOpen();
            CUevent event = idle.poll();
            if (event == null) {
                event = new CUevent();
                check(JCudaDriver.cuEventCreate(event, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
                all.add(event);
            }
            check(JCudaDriver.cuEventRecord(event, stream), "cuEventRecord");
            return new EventCompletion(this, event);
        }

        synchronized void recycle(CUevent event) {
            if (!closed) {
                idle.push(event);
            }
        }

        private void requireOpen() {
            if (closed) {
                throw new IllegalStateException("stream is closed");
            }
        }

        synchronized void checkOpen() {
            requireOpen();
        }

        synchronized boolean isClosed() {
            return closed;
        }

        @Override
        public void synchronize() {
            synchronized (this) {
                requireOpen();
            }
            bind();
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
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
            bind();
            try {
                check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            } finally {
                synchronized (this) {
                    for (CUevent event : all) {
                        JCudaDriver.cuEventDestroy(event);
                    }
                    all.clear();
                    idle.clear();
                }
                JCudaDriver.cuStreamDestroy(stream);
            }
        }
    }

    /** The completion of the copies queued before its event; gives the event back once seen done. */
    private final class EventCompletion implements CopyCompletion {
        private final CudaStream stream;
        private final CUevent event;
        private volatile boolean done;

        EventCompletion(CudaStream stream, CUevent event) {
            this.stream = stream;
            this.event = event;
        }

        @Override
        public boolean isDone() {
            if (done) {
                return true;
            }
            synchronized (this) {
                if (done || settledByClose()) {
                    return true;
                }
                bind();
                int rc = JCudaDriver.cuEventQuery(event);
                if (rc == CUresult.CUDA_ERROR_NOT_READY) {
                    return false;
                }
                check(rc, "cuEventQuery");
                finish();
                return true;
            }
        }

        @Override
        public void await() {
            if (done) {
                return;
            }
            synchronized (this) {
                if (done || settledByClose()) {
                    return;
                }
                bind();
                check(JCudaDriver.cuEventSynchronize(event), "cuEventSynchronize");
                finish();
            }
        }

        private void finish() {
            done = true;
            stream.recycle(event);
        }

        /** A closed stream waited for its copies and destroyed its events: this one is done. */
        private boolean settledByClose() {
            if (stream.isClosed()) {
                done = true;
            }
            return done;
        }
    }

    private final class Registration implements HostRegistration {
        private final MemorySegment range;
        private final HostPointer pointer;
        private boolean closed;

        Registration(MemorySegment range, HostPointer pointer) {
            this.range = range;
            this.pointer = pointer;
        }

        @Override
        public MemorySegment range() {
            return range;
        }

        @Override
        public boolean pageLocked() {
            return true;
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            owned.remove(this);
            bind();
            check(JCudaDriver.cuMemHostUnregister(pointer), "cuMemHostUnregister");
        }
    }
}
