package dev.ferry.store.index;

import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * A store node's local block index: block key to where the committed block lies in the
 * node's DRAM segment and its CRC32C, in a Chronicle Map persisted to a file next to the
 * slab file. It survives the process (SIGKILL included): a restarted node reopens it,
 * checks every entry against its slab, and re-registers what is still intact.
 *
 * <p>Each entry is the key (16 bytes, {@link BlockKey}'s form) and a 20-byte value: offset
 * (i64), length (i64) and CRC32C (i32), little-endian. The file is opened with Chronicle Map's
 * recovery, which repairs the segment locks and counters a killed process may have left
 * behind.
 *
 * <p>In a data directory the index is {@value #FILE}. Earlier builds kept 8-byte keys in
 * {@value #LEGACY_FILE}; {@link #openIn} migrates such a file once (each key {@code k}
 * becomes {@link BlockKey#of(long) BlockKey.of(k)}) and deletes it, so the two formats are
 * never read as one another.
 *
 * <p>A node without a data directory keeps its index on the heap ({@link #inMemory}): it
 * outlives a restart of the master, not one of the process, so it needs no file.
 *
 * <p>Thread-safe (Chronicle Map's segment locks; a concurrent map on the heap). A persisted
 * index owns a memory mapping: close it.
 */
public final class BlockIndex implements AutoCloseable {
    /** The index file's name in a data directory. */
    public static final String FILE = "index-v2.cmap";
    /** The name of the index of earlier builds (8-byte keys), migrated by {@link #openIn}. */
    public static final String LEGACY_FILE = "index.cmap";
    private static final String NAME = "ferry-block-index";
    private static final int VALUE_BYTES = 20;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BlockIndex.class);

    private final Entries map;
    private final Path file;

    private BlockIndex(Entries map, Path file) {
        this.map = map;
        this.file = file;
    }

    /** Where the entries live: a Chronicle Map (persisted) or the heap (in memory only). */
    private sealed interface Entries {
        /** The map that holds the entries. */
        java.util.Map<?, ?> map();

        void put(IndexedBlock block);

        void remove(BlockKey key);

        void remove(BlockKey key, long offset);

        void forEach(java.util.function.Consumer<IndexedBlock> action);

        default int size() {
            return map().size();
        }

        default void clear() {
            map().clear();
        }

        void close();
    }

    /** Entries in a Chronicle Map: the key's 16 bytes, the 20-byte value. */
    private record Chronicle(ChronicleMap<byte[], byte[]> map) implements Entries {
        @Override
        public void put(IndexedBlock block) {
            ByteBuffer value = ByteBuffer.allocate(VALUE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            value.putLong(block.offset()).putLong(block.length()).putInt(block.crc32c());
            map.put(block.key().toBytes(), value.array());
        }

        @Override
        public void remove(BlockKey key) {
            map.remove(key.toBytes());
        }

        @Override
        public void remove(BlockKey key, long offset) {
            map.computeIfPresent(key.toBytes(), (k, v) ->
                    ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(0) == offset ? null : v);
        }

        @Override
        public void forEach(java.util.function.Consumer<IndexedBlock> action) {
            map.forEach((key, v) -> {
                ByteBuffer value = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
                action.accept(new IndexedBlock(BlockKey.fromBytes(key, 0), value.getLong(), value.getLong(),
                        value.getInt()));
            });
        }

        @Override
        public void close() {
            map.close();
        }
    }

    /**
     * Entries on the heap. Nothing of them outlives the process, so nothing needs Chronicle
     * Map's off-heap form, whose updates cost 5-60 us each in a sidecar (measured: its code
     * runs interpreted for the first thousands of calls, and each new entry faults in pages
     * of a map sized for every block the node can hold) against well under 1 us here.
     */
    private record Heap(java.util.concurrent.ConcurrentHashMap<BlockKey, IndexedBlock> map) implements Entries {
        @Override
        public void put(IndexedBlock block) {
            map.put(block.key(), block);
        }

        @Override
        public void remove(BlockKey key) {
            map.remove(key);
        }

        @Override
        public void remove(BlockKey key, long offset) {
            map.computeIfPresent(key, (k, v) -> v.offset() == offset ? null : v);
        }

        @Override
        public void forEach(java.util.function.Consumer<IndexedBlock> action) {
            map.values().forEach(action);
        }

        @Override
        public void close() {
            map.clear();
        }
    }

    /**
     * Opens (creating it when absent, recovering it when a process died while writing it)
     * the index at {@code file}.
     *
     * @param maxEntries most blocks the node can hold (the map is sized for it once, at creation)
     * @throws UncheckedIOException when the file cannot be created or recovered
     */
    public static BlockIndex open(Path file, long maxEntries) {
        try {
            var builder = builder(maxEntries);
            // Recovery whenever the file exists: a SIGKILLed writer may have left it mid-update.
            ChronicleMap<byte[], byte[]> map = Files.exists(file)
                    ? builder.recoverPersistedTo(file.toFile(), true)
                    : builder.createPersistedTo(file.toFile());
            return new BlockIndex(new Chronicle(map), file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open block index " + file, e);
        }
    }

    /**
     * Opens the index {@value #FILE} of a data directory, first migrating an index of an
     * earlier build ({@value #LEGACY_FILE}, 8-byte keys) when one is there. The migration
     * writes a new file beside the old one, moves it into place, then deletes the old one: a
     * process killed on the way leaves the old file, and the next open migrates again.
     *
     * @param maxEntries most blocks the node can hold
     * @throws UncheckedIOException when a file cannot be created, recovered or migrated; the
     *                              message names the file and what to do
     */
    public static BlockIndex openIn(Path dataDir, long maxEntries) {
        Path file = dataDir.resolve(FILE);
        Path legacy = dataDir.resolve(LEGACY_FILE);
        if (Files.exists(legacy)) {
            migrate(legacy, file, maxEntries);
        }
        return open(file, maxEntries);
    }

    private static void migrate(Path legacy, Path file, long maxEntries) {
        Path partial = file.resolveSibling(FILE + ".migrating");
        try {
            Files.deleteIfExists(partial);
            if (!Files.exists(file)) {
                long entries = 0;
                // The file's own header describes it (an earlier build sized it): trust that, not our sizing.
                try (ChronicleMap<Long, byte[]> old = ChronicleMap.of(Long.class, byte[].class).name(NAME)
                        .entries(Math.max(1024, maxEntries)).constantValueSizeBySample(new byte[VALUE_BYTES])
                        .recoverPersistedTo(legacy.toFile(), false);
                     ChronicleMap<byte[], byte[]> fresh = builder(Math.max(maxEntries, old.size()))
                             .createPersistedTo(partial.toFile())) {
                    for (var e : old.entrySet()) {
                        if (e.getValue().length != VALUE_BYTES) {
                            throw new IOException("entry of key " + e.getKey() + " has " + e.getValue().length
                                    + " value bytes, not " + VALUE_BYTES);
                        }
                        fresh.put(BlockKey.of(e.getKey()).toBytes(), e.getValue());
                        entries++;
                    }
                }
                Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
                LOG.info("migrated block index {} of an earlier build (8-byte keys, {} entries) to {}", legacy, entries,
                        file);
            }
            Files.delete(legacy);
        } catch (IOException | RuntimeException e) {
            throw new UncheckedIOException(new IOException("cannot migrate block index " + legacy + " (written by an "
                    + "earlier Ferry build, 8-byte keys) to " + file + ": " + e.getMessage() + "; to start this node "
                    + "with an empty index instead, delete " + legacy + " (the blocks in its slab are then dropped)", e));
        }
    }

    private static net.openhft.chronicle.map.ChronicleMapBuilder<byte[], byte[]> builder(long maxEntries) {
        return ChronicleMap.of(byte[].class, byte[].class)
                .name(NAME)
                .entries(Math.max(1024, maxEntries))
                .constantKeySizeBySample(new byte[BlockKey.BYTES])
                .constantValueSizeBySample(new byte[VALUE_BYTES]);
    }

    /**
     * An index in memory only, for a node without a data directory: it outlives a restart of
     * the master (the node registers again with what it holds), not one of the process.
     *
     * @param maxEntries most blocks the node can hold (a hint: the heap map grows as needed)
     */
    public static BlockIndex inMemory(long maxEntries) {
        int initial = (int) Math.min(1 << 16, Math.max(16, maxEntries));
        return new BlockIndex(new Heap(new java.util.concurrent.ConcurrentHashMap<>(initial)), null);
    }

    /** Records a committed block (replacing any entry of its key). */
    public void put(IndexedBlock block) {
        map.put(block);
    }

    /** Forgets a block; unknown keys are ignored. */
    public void remove(BlockKey key) {
        map.remove(key);
    }

    /**
     * Forgets a block only while its entry still says it is at {@code offset} (a later commit
     * of the key elsewhere is kept).
     */
    public void remove(BlockKey key, long offset) {
        map.remove(key, offset);
    }

    /** Every entry, in no particular order. */
    public List<IndexedBlock> entries() {
        List<IndexedBlock> out = new ArrayList<>(map.size());
        map.forEach(out::add);
        return out;
    }

    /** Entries held. */
    public int size() {
        return map.size();
    }

    /** Drops every entry (the slab it described is gone). */
    public void clear() {
        map.clear();
    }

    /** The backing file, or null for an index in memory. */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        map.close();
    }
}
