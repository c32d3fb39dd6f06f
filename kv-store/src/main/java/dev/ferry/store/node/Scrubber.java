package dev.ferry.store.node;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.rpc.RpcException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store node's background scrub: re-reads the blocks resident in its DRAM slab, over and
 * over, at most {@code bytesPerSecond}, and checks each against its committed CRC32C, so
 * that a corrupt copy (a bad page, a stray write into the slab) is found before a reader
 * finds it. A copy that fails twice in a row is reported to the master, which drops it
 * ({@link dev.ferry.store.master.Master#dropCorrupt}), exactly as a reader's report does.
 *
 * <p>A block the master freed and reused while it was being checked may fail too; the
 * master ignores a report that no longer matches a committed copy at that offset. In the
 * rare case of the same key written again at the same offset at that moment, a good copy
 * is dropped (a later miss), never a bad one served.
 *
 * <p>Thread-safe. Owns one thread: close it before the slab.
 */
final class Scrubber implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);
    /** Idle wait when there is nothing to check, ns. */
    private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** Most check time the pacing makes up after a stall, ns: no burst after a long pause. */
    private static final long MAX_CATCH_UP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final String nodeId;
    private final String segment;
    private final MemorySegment slab;
    private final ResidentBlocks resident;
    private final MasterApi master;
    private final long bytesPerSecond;
    private final Thread thread;
    private volatile boolean closed;
    private final LongAdder blocksChecked = new LongAdder();
    private final LongAdder bytesChecked = new LongAdder();
    private final LongAdder corruptFound = new LongAdder();
    private final LongAdder passes = new LongAdder();

    /**
     * Starts the scrub thread.
     *
     * @param bytesPerSecond most bytes checked per second, at least 1
     * @throws IllegalArgumentException when {@code bytesPerSecond < 1}
     */
    Scrubber(String nodeId, String segment, MemorySegment slab, ResidentBlocks resident, MasterApi master,
             long bytesPerSecond) {
        if (bytesPerSecond < 1) {
            throw new IllegalArgumentException("scrub rate must be at least 1 byte/s, was " + bytesPerSecond);
        }
        this.nodeId = nodeId;
        this.segment = segment;
        this.slab = slab;
        this.resident = resident;
        this.master = master;
        this.bytesPerSecond = bytesPerSecond;
        this.thread = Thread.ofPlatform().name("ferry-scrub").daemon().start(this::run);
    }

    private void run() {
        long next = System.nanoTime();
        while (!closed) {
            List<IndexedBlock> blocks = resident.snapshot();
            if (blocks.isEmpty()) {
                LockSupport.parkNanos(IDLE_NANOS);
                next = System.nanoTime();
                continue;
            }
            for (IndexedBlock b : blocks) {
                if (closed) {
                    return;
                }
                long now = System.nanoTime();
                if (now - next > MAX_CATCH_UP_NANOS) {
                    next = now - MAX_CATCH_UP_NANOS;
                }
                while (now < next) { // parkNanos may return early
                    LockSupport.parkNanos(next - now);
                    if (closed) {
                        return;
                    }
                    now = System.nanoTime();
                }
                next += (long) (b.length() * 1e9 / bytesPerSecond);
                try {
                    check(b);
                } catch (RuntimeException e) { // a scrub that dies finds nothing any more
                    LOG.warn("store node {}: scrub of block {} failed: {}", nodeId, b.key(), e.toString());
                }
            }
            passes.increment();
        }
    }

    private void check(IndexedBlock b) {
        if (!resident.holds(b) || b.offset() < 0 || b.offset() + b.length() > slab.byteSize()) {
            return;
        }
        MemorySegment bytes = slab.asSlice(b.offset(), b.length());
        blocksChecked.increment();
        bytesChecked.add(b.length());
        if (BlockContent.crc32c(bytes) == b.crc32c()) {
            return;
        }
        // Once more before reporting: a block (re)written into this range at this moment may match now.
        if (BlockContent.crc32c(bytes) == b.crc32c()) {
            return;
        }
        if (!resident.holds(b)) {
            return; // freed meanwhile: its range may hold another block now
        }
        try {
            if (master.dropCorrupt(b.key(), segment, b.offset(), b.crc32c())) {
                corruptFound.increment();
                LOG.warn("store node {}: block {} at offset {} failed its CRC32C check: dropped", nodeId, b.key(),
                        b.offset());
            }
            resident.forget(b);
        } catch (RpcException e) {
            // the master is unreachable: the next pass reports it again
        }
    }

    /** Blocks checked since start. */
    long blocksChecked() {
        return blocksChecked.sum();
    }

    /** Bytes checked since start. */
    long bytesChecked() {
        return bytesChecked.sum();
    }

    /** Corrupt copies found and dropped by the master since start. */
    long corruptFound() {
        return corruptFound.sum();
    }

    /** Complete passes over the resident blocks since start. */
    long passes() {
        return passes.sum();
    }

    /** Stops the thread and waits for it (at most 5 s). */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
