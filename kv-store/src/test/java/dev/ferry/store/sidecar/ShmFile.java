package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.UUID;

/** A client's shared buffer for tests: a file under /dev/shm, mapped, removed on close. */
final class ShmFile implements AutoCloseable {
    final Path path;
    final Slab slab;

    ShmFile(long bytes) {
        this.path = Path.of("/dev/shm", "ferry-test-" + UUID.randomUUID() + ".buf");
        this.slab = Slab.mapShared(path, bytes, true);
    }

    MemorySegment memory() {
        return slab.memory();
    }

    MemorySegment slice(long offset, long length) {
        return slab.memory().asSlice(offset, length);
    }

    @Override
    public void close() {
        slab.close();
    }
}
