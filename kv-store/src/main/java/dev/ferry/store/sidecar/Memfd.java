package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A client's shared buffer as the sidecar accepts it: an anonymous memory file
 * ({@code memfd_create}) of a fixed size, sealed against shrinking and growing, so that the
 * sidecar's accesses to it can never fault. Register it with
 * {@link SidecarClient#registerBuffer(Path, long)} and {@link #path()} (the sidecar opens
 * {@code /proc/<this pid>/fd/<fd>}), then {@link #memory()} maps it here: a process that
 * embeds the sidecar must register before it maps, since the sidecar refuses a file it
 * already maps. Nothing is left in {@code /dev/shm}: the memory goes when the last
 * descriptor and mapping go.
 *
 * <p>Not thread-safe for {@link #memory()} and {@link #close()}; the mapped memory may be
 * used from any thread. Owns a descriptor and a mapping: close it.
 */
public final class Memfd implements AutoCloseable {
    private final int fd;
    private final long bytes;
    private Slab slab;
    private boolean closed;

    /**
     * Creates a sealed memfd of {@code bytes} bytes (zeroed; pages are committed when touched).
     *
     * @param bytes size in bytes, at least 1
     * @throws IllegalArgumentException when {@code bytes < 1}
     * @throws java.io.UncheckedIOException when the kernel refuses the memfd, its size or its seals
     */
    public Memfd(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("a buffer holds at least 1 byte, asked for " + bytes);
        }
        this.bytes = bytes;
        this.fd = PosixFiles.memfdCreate("ferry-buffer");
        try {
            PosixFiles.truncate(fd, bytes);
            PosixFiles.addSeals(fd, PosixFiles.SEAL_SHRINK | PosixFiles.SEAL_GROW | PosixFiles.SEAL_SEAL);
        } catch (RuntimeException e) {
            PosixFiles.close(fd);
            throw e;
        }
    }

    /** The path the sidecar opens: {@code /proc/<pid>/fd/<fd>} of this process. */
    public Path path() {
        return Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
    }

    /** Size, bytes. */
    public long bytes() {
        return bytes;
    }

    /**
     * The buffer's memory, mapped read-write and shared on first use; valid until {@link #close()}.
     *
     * @throws IllegalStateException when closed
     */
    public MemorySegment memory() {
        if (closed) {
            throw new IllegalStateException("memfd buffer closed");
        }
        if (slab == null) {
            slab = Slab.mapExisting(Path.of("/proc/self/fd/" + fd), bytes);
        }
        return slab.memory();
    }

    /** Unmaps the buffer and closes the descriptor; the memory goes once the sidecar lets go of it too. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (slab != null) {
            slab.close();
        }
        PosixFiles.close(fd);
    }
}
