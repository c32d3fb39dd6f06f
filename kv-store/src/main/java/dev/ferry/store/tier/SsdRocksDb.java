package dev.ferry.store.tier;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WALRecoveryMode;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB instance under an {@link SsdTier}: its options, its two column families and
 * their handles. {@code blocks} holds block bytes and is set up as an integrated BlobDB
 * (values of {@link #MIN_BLOB_BYTES} or more go to blob files, so KiB-to-MiB blocks stay out
 * of the LSM tree and out of compaction); {@code meta} holds one small metadata record per
 * block ({@link MetaRecord}). Public so that a benchmark or a repair tool can use the very
 * same options raw.
 *
 * <p>Settings and why:
 * <ul>
 * <li>Blob files of {@link #BLOB_FILE_BYTES}, uncompressed (KV caches in fp16/bf16 barely
 *     compress, and compression would cost CPU on every put and get).
 * <li>Blob garbage collection on, age cutoff 0.25, force threshold 0.5: when blocks are
 *     evicted, compactions relocate the live blobs of the oldest quarter of blob files, and
 *     a compaction is forced when half of those files is garbage, so disk use follows the
 *     tier's capacity instead of growing with every eviction.
 * <li>Write buffer (memtable) of the {@code writeBufferBytes} given, 2 at most for blocks
 *     (one filling, one flushing), and all memtables together capped at two write buffers
 *     ({@code db_write_buffer_size}): a buffer holds a few blocks (64 MiB holds four 16 MiB
 *     blocks); flushes write them to blob files sequentially.
 * <li>WAL on, not synced per write ({@link #writeOptions()}): a put that completed survives
 *     the death of the process (its bytes are in the OS page cache), not a power cut, which
 *     a cache tier may lose. Recovery is point-in-time: a torn WAL tail is dropped, never
 *     half-applied. The WAL is capped at one write buffer ({@code max_total_wal_size}); past
 *     that, the column families that keep old WAL files alive are flushed. WAL and the
 *     memtable being flushed are what RocksDB writes on top of the blocks:
 *     {@link #reserveBytes} counts them in the tier's disk size.
 * <li>Buffered I/O with writeback every 1 MiB ({@code bytes_per_sync}), so flushes do not
 *     stall on a burst of dirty pages.
 * </ul>
 *
 * <p>Thread-safe (RocksDB is). Owns native handles: close it once, after every user.
 */
public final class SsdRocksDb implements AutoCloseable {
    /** Smallest value, bytes, that goes to a blob file; smaller ones stay in the SST files. */
    public static final long MIN_BLOB_BYTES = 4096;
    /** Target size of one blob file, bytes. */
    public static final long BLOB_FILE_BYTES = 256L << 20;
    /** Default write buffer of the blocks column family, bytes. */
    public static final long DEFAULT_WRITE_BUFFER_BYTES = 64L << 20;

    private static final byte[] PROBE_KEY = "ferry-probe".getBytes(StandardCharsets.UTF_8);

    static final String BLOCKS = "blocks";
    static final String META = "meta";

    static {
        RocksDB.loadLibrary();
    }

    private final DBOptions dbOptions;
    private final ColumnFamilyOptions blockOptions;
    private final ColumnFamilyOptions metaOptions;
    private final WriteOptions writeOptions;
    private final ReadOptions readOptions;
    private final List<ColumnFamilyHandle> handles;
    private final RocksDB db;

    private SsdRocksDb(DBOptions dbOptions, ColumnFamilyOptions blockOptions, ColumnFamilyOptions metaOptions,
            WriteOptions writeOptions, ReadOptions readOptions, List<ColumnFamilyHandle> handles, RocksDB db) {
        this.dbOptions = dbOptions;
        this.blockOptions = blockOptions;
        this.metaOptions = metaOptions;
        this.writeOptions = writeOptions;
        this.readOptions = readOptions;
        this.handles = handles;
        this.db = db;
    }

    /**
     * Opens (creating when missing) the database in {@code dir}.
     *
     * @param writeBufferBytes memtable size of the blocks column family, bytes, at least 1 MiB
     * @throws IllegalArgumentException if {@code writeBufferBytes} is below 1 MiB
     * @throws TierException if RocksDB cannot open the directory (another process holds it,
     *                       or it is not a tier's database)
     * @throws UncheckedIOException if the directory cannot be created
     */
    public static SsdRocksDb open(Path dir, long writeBufferBytes) {
        if (writeBufferBytes < (1 << 20)) {
            throw new IllegalArgumentException("write buffer must be at least 1 MiB, was " + writeBufferBytes + " bytes");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create SSD tier directory " + dir, e);
        }
        DBOptions dbOptions = new DBOptions()
                .setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                .setMaxBackgroundJobs(Math.max(2, Runtime.getRuntime().availableProcessors() / 2))
                .setBytesPerSync(1 << 20)
                .setWalBytesPerSync(1 << 20)
                .setMaxTotalWalSize(writeBufferBytes)
                .setDbWriteBufferSize(2 * writeBufferBytes)
                .setWalRecoveryMode(WALRecoveryMode.PointInTimeRecovery)
                .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
                .setKeepLogFileNum(2);
        ColumnFamilyOptions blockOptions = new ColumnFamilyOptions()
                .setWriteBufferSize(writeBufferBytes)
                .setMaxWriteBufferNumber(2)
                .setCompressionType(CompressionType.NO_COMPRESSION)
                .setEnableBlobFiles(true)
                .setMinBlobSize(MIN_BLOB_BYTES)
                .setBlobFileSize(BLOB_FILE_BYTES)
                .setBlobCompressionType(CompressionType.NO_COMPRESSION)
                .setEnableBlobGarbageCollection(true)
                .setBlobGarbageCollectionAgeCutoff(0.25)
                .setBlobGarbageCollectionForceThreshold(0.5);
        ColumnFamilyOptions metaOptions = new ColumnFamilyOptions()
                .setWriteBufferSize(Math.min(8L << 20, writeBufferBytes))
                .setMaxWriteBufferNumber(2);
        WriteOptions writeOptions = new WriteOptions().setSync(false).setDisableWAL(false);
        ReadOptions readOptions = new ReadOptions();
        List<ColumnFamilyDescriptor> descriptors = List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, metaOptions),
                new ColumnFamilyDescriptor(BLOCKS.getBytes(StandardCharsets.UTF_8), blockOptions),
                new ColumnFamilyDescriptor(META.getBytes(StandardCharsets.UTF_8), metaOptions));
        List<ColumnFamilyHandle> handles = new ArrayList<>(descriptors.size());
        try {
            RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            return new SsdRocksDb(dbOptions, blockOptions, metaOptions, writeOptions, readOptions, handles, db);
        } catch (RocksDBException e) {
            handles.forEach(ColumnFamilyHandle::close);
            readOptions.close();
            writeOptions.close();
            metaOptions.close();
            blockOptions.close();
            dbOptions.close();
            throw new TierException("cannot open the SSD tier's RocksDB in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Bytes of disk RocksDB uses on top of the blocks with a write buffer of
     * {@code writeBufferBytes}: the WAL (one write buffer) and the memtable being flushed
     * (one more).
     */
    public static long reserveBytes(long writeBufferBytes) {
        return 2 * writeBufferBytes;
    }

    /**
     * Writes and deletes a small record in the default column family (which holds no
     * blocks): whether the database takes writes.
     *
     * @throws RocksDBException when it does not
     */
    public void probe() throws RocksDBException {
        db.put(handles.get(0), writeOptions, PROBE_KEY, PROBE_KEY);
        db.delete(handles.get(0), writeOptions, PROBE_KEY);
    }

    /** The database. */
    public RocksDB db() {
        return db;
    }

    /** The column family of block bytes (BlobDB). */
    public ColumnFamilyHandle blocks() {
        return handles.get(1);
    }

    /** The column family of metadata records. */
    public ColumnFamilyHandle meta() {
        return handles.get(2);
    }

    /** Options of every write: WAL on, no sync. Shared; do not change or close. */
    public WriteOptions writeOptions() {
        return writeOptions;
    }

    /** Options of every read (checksums verified). Shared; do not change or close. */
    public ReadOptions readOptions() {
        return readOptions;
    }

    /**
     * Writes both column families' memtables to files and waits for it (blocks to blob
     * files), so that a later open has no WAL to replay.
     *
     * @throws RocksDBException when the flush fails
     */
    public void flush() throws RocksDBException {
        try (FlushOptions options = new FlushOptions().setWaitForFlush(true)) {
            db.flush(options, List.of(blocks(), meta()));
        }
    }

    /** Closes the column family handles, the database, then the options. */
    @Override
    public void close() {
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        readOptions.close();
        writeOptions.close();
        metaOptions.close();
        blockOptions.close();
        dbOptions.close();
    }
}
