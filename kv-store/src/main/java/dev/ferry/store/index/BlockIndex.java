package dev.ferry.store.index;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * A store node's local block index: block key to where the committed block lies in the
 * node's DRAM segment and its CRC32C, in a Chronicle Map persisted to a file next to the
 * slab file. It survives the process (SIGKILL included): a restarted node reopens it,
 * checks every entry against its slab, and re-registers what is still intact.
 *
 * <p>Each entry is the key (8 bytes) and a 20-byte value: offset (i64), length (i64) and
 * CRC32C (i32), little-endian. The file is opened with Chronicle Map's recovery, which
 * repairs the segment locks and counters a killed process may have left behind.
 *
 * <p>Thread-safe (Chronicle Map's segment locks). Owns a memory mapping: close it.
 */
public final class BlockIndex implements AutoCloseable {
    private static final int VALUE_BYTES = 20;

    private final ChronicleMap<Long, byte[]> map;
    private final Path file;

    private BlockIndex(ChronicleMap<Long, byte[]> map, Path file) {
        this.map = map;
        this.file = file;
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
            var builder = ChronicleMap.of(Long.class, byte[].class)
                    .name("ferry-block-index")
                    .entries(Math.max(1024, maxEntries))
                    .constantValueSizeBySample(new byte[VALUE_BYTES]);
            // Recovery whenever the file exists: a SIGKILLed writer may have left it mid-update.
            ChronicleMap<Long, byte[]> map = java.nio.file.Files.exists(file)
                    ? builder.recoverPersistedTo(file.toFile(), true)
                    : builder.createPersistedTo(file.toFile());
            return new BlockIndex(map, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open block index " + file, e);
        }
    }

    /**
     * An index in memory only, for a node without a data directory: it outlives a restart of
     * the master (the node registers again with what it holds), not one of the process.
     *
     * @param maxEntries most blocks the node can hold
     */
    public static BlockIndex inMemory(long maxEntries) {
        ChronicleMap<Long, byte[]> map = ChronicleMap.of(Long.class, byte[].class)
                .name("ferry-block-index")
                .entries(Math.max(1024, maxEntries))
                .constantValueSizeBySample(new byte[VALUE_BYTES])
                .create();
        return new BlockIndex(map, null);
    }

    /** Records a committed block (replacing any entry of its key). */
    public void put(IndexedBlock block) {
        ByteBuffer value = ByteBuffer.allocate(VALUE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        value.putLong(block.offset()).putLong(block.length()).putInt(block.crc32c());
        map.put(block.key(), value.array());
    }

    /** Forgets a block; unknown keys are ignored. */
    public void remove(long key) {
        map.remove(key);
    }

    /**
     * Forgets a block only while its entry still says it is at {@code offset} (a later commit
     * of the key elsewhere is kept).
     */
    public void remove(long key, long offset) {
        map.computeIfPresent(key, (k, v) ->
                ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(0) == offset ? null : v);
    }

    /** Every entry, in no particular order. */
    public List<IndexedBlock> entries() {
        List<IndexedBlock> out = new ArrayList<>(map.size());
        map.forEach((key, v) -> {
            ByteBuffer value = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
            out.add(new IndexedBlock(key, value.getLong(), value.getLong(), value.getInt()));
        });
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
