package dev.ferry.transfer.transport.shm;

import dev.ferry.nativemem.MappingPopulator;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.HostIdentity;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.Opcode;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Copies to and from segments of other processes on this host by mapping their backing
 * files. Mappings are made on first use and kept until {@link #close()} or
 * {@link #forget}. A segment qualifies when its descriptor names a file and the same
 * {@link HostIdentity} as this process, and the file can be opened (or is mapped already).
 *
 * <p>Unless made lazy, a mapping is populated in the background ({@link MappingPopulator})
 * from the first WRITE through it: without that, the first write through it to each 4 KiB
 * page takes a page fault of its own. The WRITE does not wait for it. A mapping only read
 * through is left to the reads, whose faults map 16 pages at a time (the kernel's fault-around).
 *
 * <p>Thread-safe. Owns mappings and the populating thread: close it.
 */
public final class ShmTransport implements AutoCloseable {
    private final Map<String, Mapping> mappings = new ConcurrentHashMap<>();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder copies = new LongAdder();
    private final MappingPopulator populator;

    /** A transport that populates its mappings in the background. */
    public ShmTransport() {
        this(true);
    }

    /**
     * @param populate whether each new mapping is populated in the background (false: its
     *                 pages are faulted in by the transfers that touch them first)
     */
    public ShmTransport(boolean populate) {
        this.populator = populate ? new MappingPopulator("ferry-shm-populate") : null;
    }

    /** Whether {@code target} can be reached through shared memory from this process. */
    public boolean reaches(SegmentDescriptor target) {
        if (target.file().isEmpty() || HostIdentity.id().isEmpty() || !HostIdentity.id().equals(target.hostId())) {
            return false;
        }
        // A file mapped already stays reachable without a system call per request.
        Mapping mapped = mappings.get(target.file());
        return mapped != null && mapped.slab().bytes() == target.bytes() || Files.isReadable(Path.of(target.file()));
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
        Mapping mapped = mappings.get(target.file());
        if (mapped != null && mapped.slab().bytes() != target.bytes()) {
            forget(target); // the owner came back with another size
        }
        Mapping mapping = mappings.computeIfAbsent(target.file(),
                f -> new Mapping(Slab.mapExisting(Path.of(f), target.bytes())));
        MemorySegment remote = mapping.slab().memory();
        if (opcode == Opcode.WRITE) {
            if (populator != null) {
                mapping.populateOnce(populator);
            }
            MemorySegment.copy(local, localOffset, remote, targetOffset, length);
        } else {
            MemorySegment.copy(remote, targetOffset, local, localOffset, length);
        }
        bytes.add(length);
        copies.increment();
    }

    /**
     * Drops the mapping of a segment's file (its owner restarted or died); waits for its
     * populating, if running, to stop (at most one {@link MappingPopulator#CHUNK_BYTES} chunk).
     */
    public void forget(SegmentDescriptor target) {
        Mapping mapping = mappings.remove(target.file());
        if (mapping != null) {
            mapping.close();
        }
    }

    /** This process's mapping of {@code target}'s file, if made: for tests. */
    java.util.Optional<Slab> mapping(SegmentDescriptor target) {
        return java.util.Optional.ofNullable(mappings.get(target.file())).map(Mapping::slab);
    }

    /** Bytes of mappings populated in the background, over this transport's life. */
    public long populatedBytes() {
        return populator == null ? 0 : populator.populatedBytes();
    }

    /** Time spent populating mappings in the background, ms, over this transport's life. */
    public double populateMillis() {
        return populator == null ? 0 : populator.populateNanos() / 1e6;
    }

    /** Mappings whose populating failed (the kernel refused it; the transfers fault their pages in instead). */
    public long populateFailures() {
        return populator == null ? 0 : populator.failures();
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
        try {
            for (String file : List.copyOf(mappings.keySet())) {
                Mapping mapping = mappings.remove(file);
                if (mapping != null) {
                    mapping.close();
                }
            }
        } finally {
            if (populator != null) {
                populator.close();
            }
        }
    }

    /** A mapping and its populating, started by the first WRITE through it. Thread-safe. */
    private static final class Mapping {
        private final Slab slab;
        private volatile MappingPopulator.Job populating;
        private boolean closed;

        Mapping(Slab slab) {
            this.slab = slab;
        }

        Slab slab() {
            return slab;
        }

        void populateOnce(MappingPopulator populator) {
            if (populating == null) {
                synchronized (this) {
                    if (populating == null && !closed) {
                        populating = populator.start(slab);
                    }
                }
            }
        }

        void close() {
            MappingPopulator.Job job;
            synchronized (this) {
                closed = true;
                job = populating;
            }
            try {
                if (job != null) {
                    job.cancelAndAwait();
                }
            } finally {
                slab.close();
            }
        }
    }
}
