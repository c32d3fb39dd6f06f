package dev.ferry.transfer.transport.shm;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.HostIdentity;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.Opcode;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Copies to and from segments of other processes on this host by mapping their backing
 * files. Mappings are made on first use and kept until {@link #close()} or
 * {@link #forget}. A segment qualifies when its descriptor names a file and the same
 * {@link HostIdentity} as this process, and the file can be opened (or is mapped already).
 *
 * <p>Thread-safe. Owns mappings: close it.
 */
public final class ShmTransport implements AutoCloseable {
    private final Map<String, Slab> mappings = new ConcurrentHashMap<>();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder copies = new LongAdder();

    /** Whether {@code target} can be reached through shared memory from this process. */
    public boolean reaches(SegmentDescriptor target) {
        if (target.file().isEmpty() || HostIdentity.id().isEmpty() || !HostIdentity.id().equals(target.hostId())) {
            return false;
        }
        // A file mapped already stays reachable without a system call per request.
        Slab mapped = mappings.get(target.file());
        return mapped != null && mapped.bytes() == target.bytes() || Files.isReadable(Path.of(target.file()));
    }

    /**
     * Copies {@code length} bytes between {@code local} at {@code localOffset} and {@code target}
     * at {@code targetOffset} (offsets in bytes), in the direction of {@code opcode}, with one
     * copy, on the calling thread.
     *
     * @throws java.io.UncheckedIOException if the file cannot be mapped
     */
    public void copy(Opcode opcode, MemorySegment local, long localOffset, SegmentDescriptor target, long targetOffset,
                     long length) {
        Slab mapped = mappings.get(target.file());
        if (mapped != null && mapped.bytes() != target.bytes()) {
            forget(target); // the owner came back with another size
        }
        MemorySegment remote = mappings.computeIfAbsent(target.file(),
                f -> Slab.mapExisting(Path.of(f), target.bytes())).memory();
        if (opcode == Opcode.WRITE) {
            MemorySegment.copy(local, localOffset, remote, targetOffset, length);
        } else {
            MemorySegment.copy(remote, targetOffset, local, localOffset, length);
        }
        bytes.add(length);
        copies.increment();
    }

    /** Drops the mapping of a segment's file (its owner restarted or died). */
    public void forget(SegmentDescriptor target) {
        Slab slab = mappings.remove(target.file());
        if (slab != null) {
            slab.close();
        }
    }

    /** Bytes copied through shared memory. */
    public long bytes() {
        return bytes.sum();
    }

    /** Copies made through shared memory (one per request it carried). */
    public long copies() {
        return copies.sum();
    }

    @Override
    public void close() {
        mappings.values().forEach(Slab::close);
        mappings.clear();
    }
}
