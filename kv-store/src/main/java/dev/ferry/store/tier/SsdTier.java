package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SSD tier of a store node: KV blocks by block key in RocksDB with BlobDB
 * ({@link SsdRocksDb}), bounded by a capacity in bytes, evicting by an
 * {@link EvictionPolicy}, verified by CRC32C on every read, and found again when the node
 * restarts on the same directory (after a clean close or the death of the process).
 *
 * <p>Per block it stores the bytes (column family {@code blocks}) and a metadata record:
 * length, CRC32C, last access ({@link StoredBlock}, column family {@code meta}); a put, an
 * eviction, a removal each write one atomic batch, so the two never disagree on disk. On
 * open the metadata rebuilds the index, the bytes in use and the policy (oldest access
 * first); {@link #forEach} then lists the blocks so that the node can register them with the
 * master again. Access times of gets are written back on {@link #close()} only: after a crash
 * the order of the last gets is lost, never a block.
 *
 * <p>Capacity: the sum of stored block lengths never exceeds {@link #capacityBytes()}. A put
 * that would exceed it first evicts the policy's victims (blocks nobody is reading), in the
 * same batch as its own write, and reports them to the {@link EvictionListener}. Disk use is
 * higher by RocksDB's own overhead: WAL and the memtable being flushed (bounded, see
 * {@link SsdRocksDb#reserveBytes}; opened with {@link Context#diskBytes} the capacity counts
 * them), SST metadata, and evicted bytes in blob files until blob garbage collection
 * relocates them.
 *
 * <p>Disk faults: a write that fails with {@code ENOSPC} makes the tier
 * {@link SsdHealth#FULL}, one that fails with another I/O error {@link SsdHealth#FAILING}
 * (logged once per change of state). Outside {@link SsdHealth#OK} puts and removals fail at
 * once with {@link SsdUnwritableException} (its message names the state and the OS error),
 * while gets keep working; {@link #health()} retries at most once per {@link #RETRY_NANOS}
 * and brings the tier back when the disk takes writes again.
 *
 * <p>Threads: puts and gets run on the tier's own I/O threads, never on the caller's, and
 * complete a {@link CompletableFuture}; each I/O thread reuses its key, metadata and write
 * batch buffers, and RocksDB reads and writes straight from and into the caller's off-heap
 * memory (no {@code byte[]} copies). {@link #remove}, {@link #contains} and the counters run
 * on the caller's thread. Thread-safe: any thread may call any method; a put or removal of a
 * key waits for reads of that key in flight.
 *
 * <p>Owns RocksDB handles and threads: close it.
 */
public final class SsdTier implements AutoCloseable {
    /** Largest block, bytes (1 GiB). */
    public static final long MAX_BLOCK_BYTES = 1L << 30;

    private static final Logger LOG = LoggerFactory.getLogger(SsdTier.class);
    private static final AtomicInteger TIERS = new AtomicInteger();

    /** Least time between two retries of a tier that refuses writes, ns. */
    public static final long RETRY_NANOS = 1_000_000_000L;

    private final Path directory;
    private final long capacityBytes;
    private final long writeBufferBytes;
    /** Replaced only when the tier reopens after a disk fault, under the write lock of {@link #dbLock}. */
    private SsdRocksDb rocks;
    private final ReentrantReadWriteLock dbLock = new ReentrantReadWriteLock();
    private final TierHealth health;
    private final TierIndex index;
    private final EvictionListener listener;
    private final ExecutorService io;
    private final Queue<IoBuffers> allBuffers = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<IoBuffers> buffers = ThreadLocal.withInitial(() -> {
        IoBuffers b = new IoBuffers();
        allBuffers.add(b);
        return b;
    });
    private final LongAdder corrupt = new LongAdder();
    private final AtomicBoolean closed = new AtomicBoolean();

    private SsdTier(Context ctx, SsdRocksDb rocks, TierIndex index) {
        this.directory = ctx.directory;
        this.capacityBytes = ctx.blockCapacityBytes();
        this.writeBufferBytes = ctx.writeBufferBytes;
        this.health = new TierHealth(ctx.directory, RETRY_NANOS, System::nanoTime);
        this.rocks = rocks;
        this.index = index;
        this.listener = ctx.listener;
        int tier = TIERS.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        this.io = Executors.newFixedThreadPool(ctx.ioThreads, r -> {
            Thread t = new Thread(r, "ferry-ssd-" + tier + "-io-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Opens the tier in {@code directory} (creating it when missing) with the default write
     * buffer and no eviction listener.
     *
     * @see Context
     */
    public static SsdTier open(Path directory, long capacityBytes, EvictionPolicy policy, int ioThreads) {
        return open(new Context().directory(directory).capacityBytes(capacityBytes).policy(policy).ioThreads(ioThreads));
    }

    /**
     * Opens the tier: opens RocksDB, reads every metadata record, rebuilds the index, the
     * bytes in use and the policy; a malformed record is deleted with its block and counted
     * as corrupt; when the blocks found exceed the capacity (reopened smaller), the policy's
     * victims are deleted (not reported to the listener: nobody registered them yet).
     *
     * @throws IllegalArgumentException when the context is incomplete or invalid
     * @throws TierException when RocksDB cannot open or read the directory
     */
    public static SsdTier open(Context context) {
        Context ctx = context.conclude();
        SsdRocksDb rocks = SsdRocksDb.open(ctx.directory, ctx.writeBufferBytes);
        SsdTier tier = null;
        try {
            tier = new SsdTier(ctx, rocks, new TierIndex(ctx.policy, ctx.blockCapacityBytes()));
            tier.recover();
            tier.warnIfDiskSmaller(ctx);
            return tier;
        } catch (RuntimeException e) {
            if (tier != null) {
                tier.io.shutdownNow(); // no task ran yet
            }
            rocks.close();
            throw e;
        }
    }

    private void recover() {
        List<StoredBlock> found = new ArrayList<>();
        List<byte[]> malformed = new ArrayList<>();
        List<byte[]> legacy = new ArrayList<>();
        try (RocksIterator it = rocks.db().newIterator(rocks.meta(), rocks.readOptions())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] key = it.key();
                try {
                    found.add(MetaRecord.decode(MetaRecord.key(key), it.value()));
                    if (key.length == MetaRecord.LEGACY_KEY_BYTES) {
                        legacy.add(key);
                    }
                } catch (IllegalArgumentException e) {
                    LOG.warn("SSD tier {}: dropping a malformed entry: {}", directory, e.getMessage());
                    malformed.add(key);
                }
            }
            it.status();
        } catch (RocksDBException e) {
            throw new TierException("cannot read the SSD tier's metadata in " + directory + ": " + e.getMessage(), e);
        }
        if (!legacy.isEmpty()) {
            migrateKeys(legacy);
        }
        found.sort(Comparator.comparingLong(StoredBlock::lastAccessMicros));
        found.forEach(index::load);
        List<StoredBlock> over = index.overCapacity();
        try (WriteBatch batch = new WriteBatch()) {
            for (byte[] key : malformed) {
                batch.delete(rocks.blocks(), key);
                batch.delete(rocks.meta(), key);
            }
            for (StoredBlock block : over) {
                batch.delete(rocks.blocks(), MetaRecord.key(block.key()));
                batch.delete(rocks.meta(), MetaRecord.key(block.key()));
            }
            rocks.db().write(rocks.writeOptions(), batch);
        } catch (RocksDBException e) {
            throw new TierException("cannot drop blocks of the SSD tier in " + directory + ": " + e.getMessage(), e);
        }
        over.forEach(b -> index.removed(b.key()));
        corrupt.add(malformed.size());
        LOG.info("SSD tier {}: {} blocks, {} of {} bytes", directory, index.blocks(), index.usedBytes(), capacityBytes);
    }

    /**
     * Rewrites the entries of an earlier build (8-byte keys) under their 16-byte keys
     * ({@link MetaRecord#key(byte[])}), one block per batch, so that a process killed on the
     * way leaves every block under one key or the other, never both lost.
     */
    private void migrateKeys(List<byte[]> legacy) {
        try {
            for (byte[] old : legacy) {
                byte[] key = MetaRecord.key(MetaRecord.key(old));
                try (WriteBatch batch = new WriteBatch()) {
                    byte[] bytes = rocks.db().get(rocks.blocks(), old);
                    byte[] meta = rocks.db().get(rocks.meta(), old);
                    if (bytes != null && meta != null) {
                        batch.put(rocks.blocks(), key, bytes);
                        batch.put(rocks.meta(), key, meta);
                    }
                    batch.delete(rocks.blocks(), old);
                    batch.delete(rocks.meta(), old);
                    rocks.db().write(rocks.writeOptions(), batch);
                }
            }
        } catch (RocksDBException e) {
            throw new TierException("cannot migrate the SSD tier in " + directory + " from an earlier build's 8-byte "
                    + "keys to 16-byte keys: " + e.getMessage(), e);
        }
        LOG.info("SSD tier {}: migrated {} blocks of an earlier build (8-byte keys) to 16-byte keys", directory,
                legacy.size());
    }

    /**
     * Stores a block, on an I/O thread: checks {@code crc32c} against the bytes, makes room
     * (evicting), then writes bytes and metadata in one batch. Storing a key again with the
     * same length and CRC32C only counts as an access; with other bytes it replaces the block
     * once the reads of it in flight are done (meanwhile gets of it fail as unknown).
     *
     * <p>The bytes are not copied before the future completes: keep them unchanged and
     * alive until then.
     *
     * @param bytes  the block, off-heap ({@link MemorySegment#isNative()}), 1 to
     *               {@link #MAX_BLOCK_BYTES} bytes
     * @param crc32c CRC32C of {@code bytes}
     * @return completes when the block is stored (in the WAL and memtable: it survives the
     *         death of this process). Fails with {@link IllegalArgumentException} when
     *         {@code crc32c} does not match the bytes (nothing stored), with
     *         {@link TierException} when no room can be made now (every other block is being
     *         read or written) or RocksDB fails, with {@link SsdUnwritableException} (at once,
     *         without writing) while the disk is full or failing; nothing changes then
     * @throws IllegalArgumentException (at once) for on-heap or empty bytes, or a block longer
     *                                  than {@link #MAX_BLOCK_BYTES} or the capacity
     * @throws IllegalStateException    when the tier is closed
     */
    public CompletableFuture<Void> put(BlockKey key, MemorySegment bytes, int crc32c) {
        long length = bytes.byteSize();
        if (!bytes.isNative()) {
            throw new IllegalArgumentException("block key " + key + ": the SSD tier takes off-heap memory only");
        }
        if (length < 1 || length > MAX_BLOCK_BYTES) {
            throw new IllegalArgumentException("block key " + key + " has " + length + " bytes; a block has 1 to "
                    + MAX_BLOCK_BYTES + " bytes");
        }
        if (length > capacityBytes) {
            throw new IllegalArgumentException("block key " + key + " of " + length
                    + " bytes is larger than the SSD tier's capacity of " + capacityBytes + " bytes");
        }
        try {
            return CompletableFuture.runAsync(() -> store(key, bytes, crc32c), executor());
        } catch (RejectedExecutionException e) {
            throw closedError(); // closed while this call ran
        }
    }

    private void store(BlockKey key, MemorySegment bytes, int crc32c) {
        checkWritable("put of block key " + key);
        IoBuffers b = buffers.get();
        ByteBuffer value = bytes.asByteBuffer();
        int actual = b.crc32c(value);
        if (actual != crc32c) {
            throw new IllegalArgumentException(String.format("block key %s: CRC32C given 0x%08x, its bytes have 0x%08x;"
                    + " nothing stored", key, crc32c, actual));
        }
        TierIndex.PutPlan plan;
        try {
            plan = index.beginPut(key, value.remaining(), crc32c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TierException("put of block key " + key + " interrupted", e);
        }
        if (plan.alreadyStored()) {
            return;
        }
        WriteBatch batch = b.batch;
        dbLock.readLock().lock();
        try {
            SsdRocksDb r = openDb("put of block key " + key);
            batch.clear();
            for (StoredBlock victim : plan.victims()) {
                batch.delete(r.blocks(), MetaRecord.key(b.victimKey, victim.key()));
                batch.delete(r.meta(), MetaRecord.key(b.victimKey, victim.key()));
            }
            batch.put(r.blocks(), MetaRecord.key(b.key, key), value);
            batch.put(r.meta(), MetaRecord.key(b.key, key),
                    MetaRecord.encode(b.meta, value.capacity(), crc32c, plan.entry().lastAccessMicros));
            r.db().write(r.writeOptions(), batch);
        } catch (RocksDBException e) {
            index.abortPut(plan);
            throw writeFailed("put of block key " + key, e);
        } catch (RuntimeException e) {
            index.abortPut(plan);
            throw new TierException("put of block key " + key + " failed: " + e.getMessage(), e);
        } finally {
            batch.clear();
            dbLock.readLock().unlock();
        }
        index.commitPut(plan);
        for (StoredBlock victim : plan.victims()) {
            try {
                listener.onEvicted(victim.key(), victim.length());
            } catch (RuntimeException e) {
                LOG.warn("SSD tier {}: eviction listener failed on block key {}", directory, victim.key(), e);
            }
        }
    }

    /**
     * Reads a block into {@code dst}, on an I/O thread, and checks it against its CRC32C.
     *
     * @param dst off-heap, writable memory; the block lands in its first bytes. On failure
     *            its contents are unspecified
     * @return completes with the block's length in bytes. Fails with
     *         {@link UnknownBlockException} when the key is not in the tier,
     *         {@link IllegalArgumentException} when the block is longer than {@code dst}
     *         (nothing read), {@link CorruptBlockException} when the bytes do not match the
     *         recorded CRC32C or length (the block is dropped, counted in
     *         {@link #corruptBlocks()}, and must be fetched elsewhere), {@link TierException}
     *         when RocksDB fails otherwise
     * @throws IllegalArgumentException (at once) when {@code dst} is on-heap or read-only
     * @throws IllegalStateException    when the tier is closed
     */
    public CompletableFuture<Long> get(BlockKey key, MemorySegment dst) {
        if (!dst.isNative() || dst.isReadOnly()) {
            throw new IllegalArgumentException("block key " + key + ": the destination must be writable off-heap memory");
        }
        try {
            return CompletableFuture.supplyAsync(() -> load(key, dst), executor());
        } catch (RejectedExecutionException e) {
            throw closedError(); // closed while this call ran
        }
    }

    private long load(BlockKey key, MemorySegment dst) {
        TierIndex.Entry entry = index.beginRead(key, dst.byteSize());
        long length = entry.length;
        String problem;
        boolean dropper = false;
        try {
            problem = readChecked(key, dst.asSlice(0, length).asByteBuffer(), entry.crc32c);
            if (problem != null) {
                // Still a reader here, so no put of this key can slip in before the drop.
                dropper = index.beginDrop(entry);
            }
        } finally {
            index.endRead(entry);
        }
        if (problem != null) {
            if (dropper) {
                corrupt.increment();
                LOG.warn("SSD tier {}: block key {} is corrupt ({}); dropping it", directory, key, problem);
                try {
                    delete(key);
                } catch (RocksDBException e) {
                    LOG.warn("SSD tier {}: cannot delete corrupt block key {}: {}", directory, key, e.getMessage());
                }
                index.removed(key);
            }
            throw new CorruptBlockException(key, problem);
        }
        return length;
    }

    /**
     * Reads block {@code key} into {@code out} (exactly its recorded length) and checks it.
     *
     * @return null when the bytes are whole and match {@code crc32c}, else what is wrong
     * @throws TierException when RocksDB fails for another reason than corruption
     */
    private String readChecked(BlockKey key, ByteBuffer out, int crc32c) {
        IoBuffers b = buffers.get();
        int n;
        dbLock.readLock().lock();
        try {
            SsdRocksDb r = openDb("get of block key " + key);
            n = r.db().get(r.blocks(), r.readOptions(), MetaRecord.key(b.key, key), out);
        } catch (RocksDBException e) {
            Status status = e.getStatus();
            if (status != null && status.getCode() == Status.Code.Corruption) {
                return "RocksDB: " + e.getMessage();
            }
            throw new TierException("get of block key " + key + " failed: " + e.getMessage(), e);
        } finally {
            dbLock.readLock().unlock();
        }
        if (n == RocksDB.NOT_FOUND) {
            return "its bytes are missing";
        }
        if (n != out.capacity()) {
            return n + " bytes stored, " + out.capacity() + " recorded";
        }
        int actual = b.crc32c(out.clear());
        return actual == crc32c ? null
                : String.format("CRC32C of the bytes read 0x%08x, recorded 0x%08x", actual, crc32c);
    }

    /** Whether the block is stored and readable now. Does not count as an access. */
    public boolean contains(BlockKey key) {
        return index.contains(key);
    }

    /**
     * Deletes a block, on the caller's thread; waits for a put or reads of it in flight.
     * Not reported to the {@link EvictionListener}.
     *
     * @return whether the block was in the tier
     * @throws SsdUnwritableException when the disk is full or failing (the block stays)
     * @throws TierException when RocksDB fails (the block stays) or the wait is interrupted
     */
    public boolean remove(BlockKey key) {
        checkOpen();
        if (health.state() != SsdHealth.OK && !index.contains(key)) {
            return false; // nothing to remove: no need for a disk that refuses writes
        }
        checkWritable("removal of block key " + key);
        StoredBlock block;
        try {
            block = index.beginRemove(key);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TierException("removal of block key " + key + " interrupted", e);
        }
        if (block == null) {
            return false;
        }
        try {
            delete(key);
        } catch (RocksDBException e) {
            index.abortRemove(block);
            throw writeFailed("removal of block key " + key, e);
        }
        index.removed(key);
        return true;
    }

    private void delete(BlockKey key) throws RocksDBException {
        byte[] k = MetaRecord.key(key);
        dbLock.readLock().lock();
        try (WriteBatch batch = new WriteBatch()) {
            SsdRocksDb r = openDb("removal of block key " + key);
            batch.delete(r.blocks(), k);
            batch.delete(r.meta(), k);
            r.db().write(r.writeOptions(), batch);
        } finally {
            dbLock.readLock().unlock();
        }
    }

    /** The database, or a {@link TierException} while a reopen after a disk fault has not succeeded. Call under the read lock. */
    private SsdRocksDb openDb(String what) {
        SsdRocksDb r = rocks;
        if (r == null) {
            throw new TierException(what + " failed: the SSD tier " + directory + " is reopening after a disk fault");
        }
        return r;
    }

    /**
     * Fails at once with {@link SsdUnwritableException} while the tier refuses writes; when
     * a retry is due, tries first to make the tier writable again.
     */
    private void checkWritable(String what) {
        if (health.state() == SsdHealth.OK) {
            return;
        }
        retryIfDue();
        if (health.state() != SsdHealth.OK) {
            throw health.refusal(what);
        }
    }

    private TierException writeFailed(String what, RocksDBException e) {
        SsdHealth h = health.failed(e);
        if (h != SsdHealth.OK) {
            return health.refusal(what);
        }
        return new TierException(what + " failed: " + e.getMessage(), e);
    }

    /**
     * Whether the tier takes writes now. While it does not ({@link SsdHealth#FULL},
     * {@link SsdHealth#FAILING}), a call at least {@link #RETRY_NANOS} after the last retry
     * starts another on an I/O thread: when the file system has room again (for
     * {@link SsdHealth#FULL}), the tier reopens its database (RocksDB stops writing after a
     * failed flush until it is reopened) and writes a probe record; if that works, it is
     * {@link SsdHealth#OK} again. Reads keep working meanwhile. Thread-safe, never blocks.
     */
    public SsdHealth health() {
        if (health.state() != SsdHealth.OK && !closed.get()) {
            try {
                io.execute(this::retryIfDue);
            } catch (RejectedExecutionException closing) {
                // closed meanwhile: nothing to retry
            }
        }
        return health.state();
    }

    private void retryIfDue() {
        if (!health.retryDue()) {
            return;
        }
        long free = usableDiskBytes();
        long needed = SsdRocksDb.reserveBytes(writeBufferBytes);
        if (health.state() == SsdHealth.FULL && free < needed) {
            return; // reopening would replay the WAL into a flush that cannot be written
        }
        dbLock.writeLock().lock();
        try {
            if (rocks != null) {
                rocks.close();
                rocks = null;
            }
            rocks = SsdRocksDb.open(directory, writeBufferBytes);
            rocks.probe();
            health.recovered();
        } catch (RocksDBException e) {
            health.failed(e);
        } catch (RuntimeException e) {
            // Not open again (or not writable): the state stays, and the next retry tries again.
            if (e.getCause() instanceof RocksDBException r) {
                health.failed(r);
            }
        } finally {
            dbLock.writeLock().unlock();
        }
    }

    private long usableDiskBytes() {
        try {
            return java.nio.file.Files.getFileStore(directory).getUsableSpace();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private void warnIfDiskSmaller(Context ctx) {
        long free = usableDiskBytes();
        long wanted = ctx.blockCapacityBytes() - index.usedBytes() + SsdRocksDb.reserveBytes(writeBufferBytes);
        if (free > 0 && free < wanted) {
            LOG.warn("SSD tier {}: its file system has {} bytes free, less than the {} bytes the tier may still"
                    + " write (capacity {} bytes); when the disk fills the tier reports itself full and the master"
                    + " evicts instead of demoting", directory, free, wanted, ctx.diskBytes());
        }
    }

    /**
     * The smallest disk size ({@link Context#diskBytes}) that leaves at least
     * {@code blockBytes} for blocks after RocksDB's reserve, with the write buffer derived
     * from the disk size as {@link Context#diskBytes} does: what to give a tier that must hold
     * that many bytes of blocks.
     *
     * @param blockBytes bytes of blocks the tier must hold, at least 1
     * @return disk bytes, at most {@code blockBytes} plus twice the largest write buffer
     * @throws IllegalArgumentException when {@code blockBytes} is below 1
     */
    public static long diskBytesFor(long blockBytes) {
        if (blockBytes < 1) {
            throw new IllegalArgumentException("an SSD tier holds at least 1 byte of blocks, not " + blockBytes);
        }
        long low = blockBytes;
        long high = blockBytes + SsdRocksDb.reserveBytes(SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES);
        while (low < high) { // the block capacity grows with the disk size
            long mid = low + (high - low) / 2;
            if (mid - SsdRocksDb.reserveBytes(Math.clamp(mid / 16, 1L << 20, SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES))
                    >= blockBytes) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        return low;
    }

    /**
     * Calls {@code action} for every stored block, oldest access first, from a snapshot taken
     * at the call (blocks put or removed meanwhile may or may not appear), on the caller's
     * thread.
     */
    public void forEach(Consumer<? super StoredBlock> action) {
        index.snapshot().forEach(action);
    }

    /** The keys of the stored blocks, oldest access first (a snapshot). */
    public BlockKey[] keys() {
        return index.snapshot().stream().map(StoredBlock::key).toArray(BlockKey[]::new);
    }

    /** Bytes of the stored blocks plus those of puts in flight; at most {@link #capacityBytes()}. */
    public long usedBytes() {
        return index.usedBytes();
    }

    /** The most bytes of blocks the tier holds. */
    public long capacityBytes() {
        return capacityBytes;
    }

    /** Number of readable blocks. */
    public int blocks() {
        return index.blocks();
    }

    /** Blocks found corrupt and dropped since open (on read, or malformed at open). */
    public long corruptBlocks() {
        return corrupt.sum();
    }

    /** The directory of the tier's files. */
    public Path directory() {
        return directory;
    }

    private ExecutorService executor() {
        checkOpen();
        return io;
    }

    private void checkOpen() {
        if (closed.get()) {
            throw closedError();
        }
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("SSD tier " + directory + " is closed");
    }

    /**
     * Lets the puts and gets already submitted finish, writes back the access times of the
     * blocks read since open, stops the I/O threads, flushes the memtables (so that the next
     * open replays no WAL) and closes RocksDB. Later calls throw
     * {@link IllegalStateException}; closing again does nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        io.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (io.awaitTermination(1, TimeUnit.MINUTES)) {
                    break;
                }
                LOG.warn("SSD tier {}: still waiting for its I/O to finish", directory);
            } catch (InterruptedException e) {
                interrupted = true; // RocksDB must not close under a running read or write
            }
        }
        dbLock.writeLock().lock();
        try (WriteBatch batch = new WriteBatch()) {
            if (rocks != null && health.state() == SsdHealth.OK) {
                for (StoredBlock block : index.takeDirtyAccesses()) {
                    batch.put(rocks.meta(), MetaRecord.key(block.key()), MetaRecord.encode(block));
                }
                rocks.db().write(rocks.writeOptions(), batch);
                rocks.flush();
            }
        } catch (RocksDBException e) {
            LOG.warn("SSD tier {}: access times not saved or memtables not flushed: {}", directory, e.getMessage());
        } finally {
            allBuffers.forEach(IoBuffers::close);
            if (rocks != null) {
                rocks.close();
                rocks = null;
            }
            dbLock.writeLock().unlock();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * How to open an {@link SsdTier}, with fluent setters; {@link #conclude()} checks it.
     * Required: directory, capacity, policy.
     */
    public static final class Context {
        private Path directory;
        private long capacityBytes = -1;
        private long diskBytes = -1;
        private EvictionPolicy policy;
        private int ioThreads = 2;
        private long writeBufferBytes = -1;
        private EvictionListener listener = EvictionListener.NONE;

        /** The directory of the tier's RocksDB files; created when missing. */
        public Context directory(Path directory) {
            this.directory = directory;
            return this;
        }

        /**
         * The most bytes of blocks to hold, at least 1, on top of which RocksDB writes up to
         * {@link SsdRocksDb#reserveBytes} of WAL and memtable flushes. Set this or
         * {@link #diskBytes}.
         */
        public Context capacityBytes(long capacityBytes) {
            this.capacityBytes = capacityBytes;
            return this;
        }

        /**
         * The most bytes the tier puts on its disk, everything counted: blocks get what is left
         * after RocksDB's reserve ({@link SsdRocksDb#reserveBytes} of the write buffer), and the
         * write buffer, unless set, is 1/16 of it (1 to 64 MiB). Set this or {@link #capacityBytes}.
         */
        public Context diskBytes(long diskBytes) {
            this.diskBytes = diskBytes;
            return this;
        }

        long diskBytes() {
            return diskBytes > 0 ? diskBytes : capacityBytes + SsdRocksDb.reserveBytes(writeBufferBytes);
        }

        long blockCapacityBytes() {
            return capacityBytes > 0 ? capacityBytes : diskBytes - SsdRocksDb.reserveBytes(writeBufferBytes);
        }

        /** The eviction policy, fresh: the tier owns and drives it (e.g. {@link EvictionPolicy#byName}). */
        public Context policy(EvictionPolicy policy) {
            this.policy = policy;
            return this;
        }

        /** Threads that run puts and gets, at least 1 (default 2). */
        public Context ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        /**
         * Memtable of the blocks column family, bytes, at least 1 MiB (default 64 MiB, or 1/16
         * of {@link #diskBytes} between 1 and 64 MiB).
         */
        public Context writeBufferBytes(long writeBufferBytes) {
            this.writeBufferBytes = writeBufferBytes;
            return this;
        }

        /** Told of the blocks the tier evicts (default: nobody). */
        public Context evictionListener(EvictionListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the first missing or invalid setting
         */
        Context conclude() {
            if (directory == null) {
                throw new IllegalArgumentException("SSD tier: no directory given");
            }
            if ((capacityBytes > 0) == (diskBytes > 0)) {
                throw new IllegalArgumentException("SSD tier: capacity must be at least 1 byte, given as either a block"
                        + " capacity or a disk size, was " + capacityBytes + " and " + diskBytes + " bytes");
            }
            if (writeBufferBytes < 0) {
                writeBufferBytes = diskBytes > 0
                        ? Math.clamp(diskBytes / 16, 1L << 20, SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES)
                        : SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES;
            }
            if (diskBytes > 0 && blockCapacityBytes() < 1) {
                throw new IllegalArgumentException("SSD tier: a disk size of " + diskBytes + " bytes leaves no room for"
                        + " blocks after RocksDB's reserve of " + SsdRocksDb.reserveBytes(writeBufferBytes)
                        + " bytes (WAL and memtable flushes, 2 write buffers)");
            }
            if (policy == null) {
                throw new IllegalArgumentException("SSD tier: no eviction policy given");
            }
            if (ioThreads < 1) {
                throw new IllegalArgumentException("SSD tier: at least 1 I/O thread, was " + ioThreads);
            }
            if (writeBufferBytes < (1 << 20)) {
                throw new IllegalArgumentException("SSD tier: write buffer must be at least 1 MiB, was "
                        + writeBufferBytes + " bytes");
            }
            return this;
        }
    }
}
