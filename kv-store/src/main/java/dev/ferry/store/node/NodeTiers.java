package dev.ferry.store.node;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.index.BlockIndex;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.NodeReport;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.store.tier.SsdTier;
import dev.ferry.store.tier.SsdUnwritableException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tiers of one store node as the master drives them: the DRAM slab, its persisted
 * {@link BlockIndex} (optional) and the {@link SsdTier} (optional).
 *
 * <p>The master's {@link IndexUpdate}s are taken in order: their index changes at once (ADD,
 * REMOVE, DRAM_FREED), so that a commit is in the index before the master acknowledges it to
 * the writer; their tier moves on one thread of their own (REMOVE also removes from the SSD
 * tier, DEMOTE copies a block from the slab to the SSD tier), so a poll or heartbeat never
 * waits for a disk. {@link #load} serves a reader's promotion: it copies a
 * block from the SSD tier into the DRAM range the master allocated. What happened is
 * reported to the master in the next heartbeat ({@link #report()}), with the SSD tier's
 * {@link SsdHealth}: a full or failing disk refuses writes at once (a DEMOTE then reports the
 * block as not on SSD, a REMOVE leaves it there), the master stops demoting to it, and
 * the tier retries on its own ({@link SsdTier#health()}).
 *
 * <p>Thread-safe: updates come from the heartbeat and index poll threads, loads from RPC threads.
 */
final class NodeTiers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeTiers.class);

    private final Slab slab;
    private final BlockIndex index;
    private final SsdTier ssd;
    private final ExecutorService mover = Executors.newSingleThreadExecutor(r -> new Thread(r, "ferry-tier-mover"));
    private final ConcurrentLinkedQueue<BlockKey> demoted = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<BlockKey> loaded = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<BlockKey> ssdGone = new ConcurrentLinkedQueue<>();
    private final AtomicLong applied = new AtomicLong();
    private long submitted;
    private NodeReport unsent;
    private volatile Runnable demotionsWritten = () -> { };
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong refusedWrites = new AtomicLong();
    private final ResidentBlocks resident = new ResidentBlocks();

    /**
     * @param index the index (persisted, or in memory), or null for a node that keeps none
     * @param ssd   the SSD tier, or null; its eviction listener must call {@link #ssdEvicted}
     */
    NodeTiers(Slab slab, BlockIndex index, SsdTier ssd) {
        this.slab = slab;
        this.index = index;
        this.ssd = ssd;
    }

    /**
     * Runs {@code action} on the mover thread each time it has written demoted blocks and has
     * nothing more queued (the node reports them at once: puts may be waiting for the room).
     */
    void onDemotionsWritten(Runnable action) {
        this.demotionsWritten = action;
    }

    /** Capacity of the SSD tier, bytes; 0 without one. */
    long ssdBytes() {
        return ssd == null ? 0 : ssd.capacityBytes();
    }

    boolean indexed() {
        return index != null;
    }

    /** The committed blocks in the slab, as the updates applied so far say (for the scrub). */
    ResidentBlocks resident() {
        return resident;
    }

    /**
     * The blocks this node still holds, for registering: the indexed DRAM blocks whose bytes
     * still match their CRC32C (the others are dropped from the index), then every block of
     * the SSD tier (checked when read).
     *
     * @param dropped counts the indexed blocks dropped
     */
    List<IndexedBlock> kept(AtomicLong dropped) {
        List<IndexedBlock> kept = new ArrayList<>();
        if (index != null) {
            for (IndexedBlock b : index.entries()) {
                boolean inRange = b.offset() >= 0 && b.length() > 0 && b.offset() + b.length() <= slab.bytes();
                if (inRange && BlockContent.crc32c(slab.memory().asSlice(b.offset(), b.length())) == b.crc32c()) {
                    kept.add(b);
                    resident.add(b);
                } else {
                    index.remove(b.key());
                    dropped.incrementAndGet();
                }
            }
        }
        if (ssd != null) {
            ssd.forEach(s -> kept.add(new IndexedBlock(s.key(), IndexedBlock.ON_SSD, s.length(), s.crc32c())));
        }
        return kept;
    }

    /**
     * Takes the updates not taken yet (a poll or heartbeat answer repeats those not
     * acknowledged): their index changes are made at once, in order, on the calling thread
     * (persisted, with a data directory, when this returns); their tier moves (SSD writes
     * and removals) are queued, in order, for the mover thread. An update counts as
     * acknowledged once taken: the index has it and the move is queued.
     */
    synchronized void submit(List<IndexUpdate> updates) {
        for (IndexUpdate u : updates) {
            if (u.seq() <= submitted) {
                continue;
            }
            submitted = u.seq();
            applyIndex(u);
            if (u.kind() == IndexUpdate.Kind.DEMOTE && ssd != null || u.kind() == IndexUpdate.Kind.REMOVE && ssd != null) {
                queued.incrementAndGet();
                mover.execute(() -> {
                    applyTier(u);
                    if (queued.decrementAndGet() == 0 && !demoted.isEmpty()) {
                        demotionsWritten.run();
                    }
                });
            }
            applied.set(u.seq());
        }
    }

    /** The entries of the index now (none without one); for tests. */
    List<IndexedBlock> indexEntries() {
        return index == null ? List.of() : index.entries();
    }

    /** The newest update taken (0 before the first, and after {@link #reset()}). */
    long applied() {
        return applied.get();
    }

    private void applyIndex(IndexUpdate u) {
        IndexedBlock b = u.block();
        switch (u.kind()) { // what the scrub reads
            case ADD -> resident.add(b);
            case REMOVE, DRAM_FREED -> resident.remove(b.key());
            case DEMOTE -> { } // until the block is on SSD
        }
        if (index == null) {
            return;
        }
        try {
            switch (u.kind()) {
                case ADD -> index.put(b);
                case REMOVE, DRAM_FREED -> index.remove(b.key());
                case DEMOTE -> { } // the entry goes once the block is on SSD
            }
        } catch (RuntimeException e) {
            LOG.warn("update {} of block {} failed: {}", u.kind(), b.key(), e.toString());
        }
    }

    private void applyTier(IndexUpdate u) {
        IndexedBlock b = u.block();
        try {
            switch (u.kind()) {
                case REMOVE -> ssd.remove(b.key());
                case DEMOTE -> demote(b);
                default -> { }
            }
        } catch (SsdUnwritableException e) {
            refusedWrites.incrementAndGet(); // the tier logged its state once; no log per block
        } catch (RuntimeException e) {
            LOG.warn("update {} of block {} failed: {}", u.kind(), b.key(), e.toString());
        }
    }

    private void demote(IndexedBlock b) {
        if (ssd == null) {
            return;
        }
        try {
            if (!ssd.contains(b.key())) {
                ssd.put(b.key(), slab.memory().asSlice(b.offset(), b.length()), b.crc32c()).join();
            }
            resident.remove(b.key());
            if (index != null) {
                index.remove(b.key(), b.offset()); // unless the key was committed again elsewhere meanwhile
            }
            demoted.add(b.key());
        } catch (CompletionException | IllegalArgumentException e) {
            // The DRAM range was reused meanwhile (CRC mismatch), the tier is full of busy blocks,
            // or the disk refuses writes (then reported by the state in the next heartbeat).
            if (e.getCause() instanceof SsdUnwritableException) {
                refusedWrites.incrementAndGet();
            }
            ssdGone.add(b.key());
        }
    }

    /**
     * Copies an SSD-resident block into the slab at {@code offset} (a reader's promotion)
     * and indexes it there.
     *
     * @throws RpcException REFUSED when the node has no SSD tier, the range is outside the
     *                      slab, or the SSD tier no longer holds an intact copy (reported
     *                      to the master as gone)
     */
    void load(BlockKey key, long offset, long length, int crc32c) {
        if (ssd == null) {
            throw new RpcException(RpcException.REFUSED, "this store node has no SSD tier");
        }
        if (offset < 0 || length < 1 || offset + length > slab.bytes()) {
            throw new RpcException(RpcException.REFUSED, "range [" + offset + ", " + (offset + length)
                    + ") is outside the slab of " + slab.bytes() + " bytes");
        }
        try {
            long read = ssd.get(key, slab.memory().asSlice(offset, length)).join();
            if (read != length) {
                throw new CompletionException(new IllegalStateException("SSD tier holds " + read + " bytes, not " + length));
            }
        } catch (CompletionException e) {
            ssdGone.add(key);
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new RpcException(RpcException.REFUSED, "block key " + key + " cannot be loaded from SSD: "
                    + cause.getMessage());
        }
        IndexedBlock b = new IndexedBlock(key, offset, length, crc32c);
        resident.add(b);
        if (index != null) {
            index.put(b);
        }
        loaded.add(key);
    }

    /** Writes (demotions, removals) the SSD tier refused because its disk was full or failing, since start. */
    /** What this node holds per tier now (walks the resident blocks: for metrics). */
    NodeUsage usage() {
        long dramBytes = 0;
        List<IndexedBlock> inDram = resident.snapshot();
        for (IndexedBlock b : inDram) {
            dramBytes += b.length();
        }
        return new NodeUsage(slab.bytes(), inDram.size(), dramBytes, ssd == null ? 0 : ssd.capacityBytes(),
                ssd == null ? 0 : ssd.blocks(), ssd == null ? 0 : ssd.usedBytes());
    }

    long refusedSsdWrites() {
        return refusedWrites.get();
    }

    /** The SSD tier's state now ({@link SsdHealth#OK} without one); starts a retry when one is due. */
    SsdHealth ssdHealth() {
        return ssd == null ? SsdHealth.OK : ssd.health();
    }

    /** The SSD tier evicted a block on its own. */
    void ssdEvicted(BlockKey key) {
        ssdGone.add(key);
    }

    /**
     * What to tell the master in the next heartbeat. Until {@link #reported()} is called the
     * same report is returned again (a heartbeat that failed loses nothing).
     */
    synchronized NodeReport report() {
        if (unsent == null) {
            unsent = new NodeReport(applied.get(), drain(demoted), drain(loaded), drain(ssdGone));
        }
        unsent = unsent.withSsd(ssdHealth());
        return unsent;
    }

    /** The master took the last report. */
    synchronized void reported() {
        unsent = null;
    }

    /**
     * Starts over with a master that does not know this node (a new registration): waits
     * until the queued updates are applied, then numbers from 0 again.
     */
    synchronized void reset() {
        try {
            mover.submit(() -> { }).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("tier updates still running while the node registers again: {}", e.toString());
        }
        submitted = 0;
        applied.set(0);
        unsent = null;
        resident.clear();
    }

    private static BlockKey[] drain(ConcurrentLinkedQueue<BlockKey> queue) {
        List<BlockKey> keys = new ArrayList<>();
        for (BlockKey k; (k = queue.poll()) != null; ) {
            keys.add(k);
        }
        return keys.toArray(BlockKey[]::new);
    }

    @Override
    public void close() {
        mover.shutdown();
        try {
            mover.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (ssd != null) {
            ssd.close();
        }
        if (index != null) {
            index.close();
        }
    }
}
