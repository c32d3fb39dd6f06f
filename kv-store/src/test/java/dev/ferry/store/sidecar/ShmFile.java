package dev.ferry.store.sidecar;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A client's shared buffer for tests: a sealed {@link Memfd}, named by {@link #path} for
 * REGISTER_BUFFER. The sidecar of a test runs in the test's process and refuses a file it
 * maps already, so register before the first {@link #memory()} (which maps it).
 */
final class ShmFile implements AutoCloseable {
    final Memfd memfd;
    final Path path;
    final long bytes;

    ShmFile(long bytes) {
        this.memfd = new Memfd(bytes);
        this.path = memfd.path();
        this.bytes = bytes;
    }

    MemorySegment memory() {
        return memfd.memory();
    }

    MemorySegment slice(long offset, long length) {
        return memory().asSlice(offset, length);
    }

    @Override
    public void close() {
        memfd.close();
    }
}
