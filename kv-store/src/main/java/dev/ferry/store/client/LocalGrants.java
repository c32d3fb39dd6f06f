package dev.ferry.store.client;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.node.CommitIndex;
import dev.ferry.store.rpc.RpcException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Space of this process's store node that the master granted ahead of its puts
 * ({@link MasterApi#grant}), so that a put of one copy into this node takes one call of the
 * master instead of two: the blocks are placed in granted space here, copied into the node's
 * memory with their CRC32C, and published with {@link MasterApi#putGranted}, which also hands
 * the node its index updates (as a sidecar's commit does). Mooncake's client, like Ferry's
 * usual path, asks the master twice per put (allocation, then commit); on loopback each call
 * costs 0.1-0.7 ms of thread wake-ups on the development machine, as much as copying 1-6 MiB.
 *
 * <p>Granted space is written only while the node stays registered as it was when the space
 * was granted ({@link CommitIndex#whileRegistered}): a node that registers again (a restarted
 * master, a new leader) drops what it was granted before, which that master may hand to
 * others. A key in the store already keeps its value, and its range goes back to the pool; a
 * put the master does not answer leaves its ranges unused (their fate is unknown) and goes the
 * usual way, which finds the keys it committed after all.
 *
 * <p>The node holds at most about {@link #chunkBytes} (or four puts' bytes) granted and
 * unused per concurrent put, and gives it back after {@link #IDLE_NANOS} without puts
 * ({@link #returnIdle}). Only free space is granted: a full store gets nothing, and its puts
 * go the usual way (which evicts), asking for grants again at most every {@link #RETRY_NANOS}.
 *
 * <p>Thread-safe.
 */
final class LocalGrants implements AutoCloseable {
    /** Answer of {@link #put} for a key that must be put the usual way. */
    static final byte FALLBACK = -1;
    /** Unused granted space goes back to the master after this long without puts (1 s). */
    static final long IDLE_NANOS = 1_000_000_000L;
    /** After a grant the master refused, puts go the usual way this long before asking again (200 ms). */
    static final long RETRY_NANOS = 200_000_000L;

    private final MasterApi master;
    private final DirectStoreClient.LocalSegment local;
    private final CommitIndex index;
    private final long chunkBytes;
    /** The granted ranges not in use: its free ranges. Guarded by this. */
    private final OffsetAllocator pool;
    /** The node's registration the pool's ranges were granted under. Guarded by this. */
    private long poolRegistration = -1;
    private volatile long lastUse = System.nanoTime();
    private volatile long noGrantUntil = System.nanoTime() - 1;
    private volatile boolean off;
    private final LongAdder puts = new LongAdder();
    private final LongAdder grantCalls = new LongAdder();

    /**
     * @param chunkBytes bytes asked for at a time (four times a put's bytes when that is more)
     */
    LocalGrants(MasterApi master, DirectStoreClient.LocalSegment local, long chunkBytes) {
        this.master = master;
        this.local = local;
        this.index = local.index();
        this.chunkBytes = chunkBytes;
        this.pool = OffsetAllocator.empty(local.memory().byteSize());
    }

    /** Chunk of a segment of {@code segmentBytes}: a sixteenth, at most 64 MiB, at least one alignment unit. */
    static long chunkFor(long segmentBytes) {
        return Math.max(OffsetAllocator.ALIGNMENT, Math.min(64L << 20, segmentBytes / 16));
    }

    /** Blocks put through granted space since start. */
    long puts() {
        return puts.sum();
    }

    /** Calls of {@link MasterApi#grant} since start. */
    long grantCalls() {
        return grantCalls.sum();
    }

    /** Granted bytes not in use now. */
    synchronized long pooledBytes() {
        return pool.freeBytes();
    }

    /** Answer of {@link #put} for a key whose block the fill could not fill (nothing is stored for it). */
    static final byte UNFILLED = -2;

    /**
     * Puts each block, one copy in this node, through granted space, {@code lengths[i]} bytes
     * for {@code keys[i]}, with {@code names[i]} its string key or null ({@code names} null
     * for none); {@code fill} writes the blocks where they are placed.
     *
     * @return per key {@link DirectStoreClient#STORED}, {@link DirectStoreClient#EXISTED},
     *         {@link #UNFILLED} or {@link #FALLBACK}; null when nothing was put (no granted
     *         space to be had)
     * @throws RuntimeException what {@code fill} throws (nothing is published then)
     */
    byte[] put(BlockKey[] keys, long[] lengths, String[] names, DirectStoreClient.Fill fill) {
        if (off || keys.length == 0) {
            return null;
        }
        lastUse = System.nanoTime();
        long needed = 0;
        for (long length : lengths) {
            needed += OffsetAllocator.aligned(length);
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            byte[] results = index.whileRegistered(registration -> tryPut(registration, keys, lengths, names, fill));
            if (results != null) {
                return results;
            }
            if (!refill(needed)) {
                return null;
            }
        }
        return null;
    }

    private byte[] tryPut(long registration, BlockKey[] keys, long[] lengths, String[] names,
                          DirectStoreClient.Fill fill) {
        long[] offsets = take(registration, lengths);
        if (offsets == null) {
            return null;
        }
        int n = keys.length;
        MemorySegment[] blocks = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            blocks[i] = local.memory().asSlice(offsets[i], lengths[i]);
        }
        Integer[] sums;
        try {
            sums = fill.fill(blocks);
        } catch (RuntimeException | Error e) {
            giveBack(registration, offsets, lengths, null);
            throw e;
        }
        // Only the filled blocks are published; the others' ranges go back at once.
        int filled = 0;
        for (Integer sum : sums) {
            filled += sum == null ? 0 : 1;
        }
        BlockKey[] fk = new BlockKey[filled];
        String[] fn = names == null ? null : new String[filled];
        long[] fo = new long[filled];
        long[] fl = new long[filled];
        int[] fc = new int[filled];
        for (int i = 0, j = 0; i < n; i++) {
            if (sums[i] != null) {
                fk[j] = keys[i];
                fo[j] = offsets[i];
                fl[j] = lengths[i];
                fc[j] = sums[i];
                if (names != null) {
                    fn[j] = names[i];
                }
                j++;
            }
        }
        MasterApi.GrantedPut[] answer = new MasterApi.GrantedPut[1];
        try {
            index.commit(acked -> (answer[0] = master.putGranted(index.nodeId(), local.name(), fk, fn, fo, fl, fc,
                    acked)).updates());
        } catch (UnsupportedOperationException e) {
            off = true;
            giveBack(registration, offsets, lengths, null);
            return fallbackAll(n);
        } catch (RpcException e) {
            // Unanswered: the master may have published some of them. Their ranges stay unused;
            // the usual way finds whichever keys it committed.
            return fallbackAll(n);
        }
        byte[] results = new byte[n];
        boolean[] back = new boolean[n];
        boolean stale = false;
        for (int i = 0, j = 0; i < n; i++) {
            if (sums[i] == null) {
                results[i] = UNFILLED;
                back[i] = true;
                continue;
            }
            switch (answer[0].results()[j++]) {
                case Master.GRANTED_STORED -> results[i] = DirectStoreClient.STORED;
                case Master.GRANTED_EXISTED -> {
                    results[i] = DirectStoreClient.EXISTED;
                    back[i] = true;
                }
                case Master.NOT_GRANTED -> {
                    results[i] = FALLBACK;
                    stale = true;
                }
                default -> { // another key's length conflict: the usual way reports it
                    results[i] = FALLBACK;
                    back[i] = true;
                }
            }
        }
        if (stale) {
            drop(registration);
        } else {
            giveBack(registration, offsets, lengths, back);
        }
        for (byte r : results) {
            if (r == DirectStoreClient.STORED) {
                puts.increment();
            }
        }
        return results;
    }

    private static byte[] fallbackAll(int n) {
        byte[] results = new byte[n];
        java.util.Arrays.fill(results, FALLBACK);
        return results;
    }

    /** A range of the pool per length, or null (nothing taken) when the pool lacks one. */
    private synchronized long[] take(long registration, long[] lengths) {
        if (registration != poolRegistration) {
            pool.takeAll(); // granted under an earlier registration: no longer the node's
            poolRegistration = registration;
        }
        long[] offsets = new long[lengths.length];
        for (int i = 0; i < lengths.length; i++) {
            offsets[i] = pool.allocate(lengths[i]);
            if (offsets[i] < 0) {
                for (int j = 0; j < i; j++) {
                    pool.free(offsets[j], lengths[j]);
                }
                return null;
            }
        }
        return offsets;
    }

    /** Returns ranges to the pool ({@code which} null: all) while it is of {@code registration} still. */
    private synchronized void giveBack(long registration, long[] offsets, long[] lengths, boolean[] which) {
        if (registration != poolRegistration) {
            return;
        }
        for (int i = 0; i < offsets.length; i++) {
            if (which == null || which[i]) {
                pool.free(offsets[i], lengths[i]);
            }
        }
    }

    /** Forgets the pool: the master no longer counts it as the node's. */
    private synchronized void drop(long registration) {
        if (registration == poolRegistration) {
            pool.takeAll();
        }
    }

    /** Asks the master for room for {@code needed} bytes at least; whether the pool got some. */
    private boolean refill(long needed) {
        long now = System.nanoTime();
        if (now - noGrantUntil < 0) {
            return false;
        }
        long registration = local.registrations().getAsLong();
        long[] range;
        try {
            grantCalls.increment();
            // Room for this put and the next few like it (a put larger than a chunk would otherwise
            // ask every time); else room for this one.
            long wanted = Math.max(chunkBytes, 4 * needed);
            range = master.grant(index.nodeId(), local.name(), wanted);
            if (range == null && wanted > needed) {
                grantCalls.increment();
                range = master.grant(index.nodeId(), local.name(), needed);
            }
        } catch (RpcException e) {
            range = null;
        }
        if (range == null) {
            noGrantUntil = System.nanoTime() + RETRY_NANOS;
            return false;
        }
        synchronized (this) {
            if (local.registrations().getAsLong() == registration) {
                if (registration != poolRegistration) {
                    pool.takeAll();
                    poolRegistration = registration;
                }
                pool.free(range[0], range[1]);
                return true;
            }
        }
        giveUp(List.<long[]>of(range)); // granted around a registration: whichever master holds it takes it back
        return true;
    }

    /**
     * Gives the pool back to the master when no put used it for {@link #IDLE_NANOS}; call
     * now and then.
     */
    void returnIdle() {
        if (System.nanoTime() - lastUse >= IDLE_NANOS) {
            returnAll();
        }
    }

    private void returnAll() {
        List<long[]> ranges;
        synchronized (this) {
            ranges = pool.takeAll();
        }
        giveUp(ranges);
    }

    private void giveUp(List<long[]> ranges) {
        if (ranges.isEmpty()) {
            return;
        }
        try {
            master.returnGranted(index.nodeId(), local.name(), ranges);
        } catch (RpcException ignored) {
            // the master is gone: a new one never granted them
        }
    }

    /**
     * Forgets the unused granted ranges without calling the master (which may be gone: a
     * close must not wait for it). They go with the node's segment when the node stops or
     * registers again; a node that outlives this client keeps them until then.
     */
    @Override
    public synchronized void close() {
        pool.takeAll();
        off = true;
    }
}
