package dev.ferry.store.gpu;

import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The local index of a GPU tier: which blocks it holds, in a file that outlives the process.
 * GPU contents do not survive a process; the index does (its records are in the page cache
 * once written, so a SIGKILL loses none), so the next process that opens it learns which
 * blocks were lost ({@link #lost()}) and can tell the master.
 *
 * <p>Format: records of 17 bytes, appended: one byte (1: held from now on, 0: dropped), then
 * the block key's 16 bytes ({@link BlockKey#toBytes()}). A torn last record (a kill in the
 * middle of a write) is ignored. The file is rewritten with the blocks held when it has grown
 * to four times their records (and at least 1,024): written to a temporary file and moved over
 * it atomically. Opening starts a new, empty index.
 *
 * <p>Not thread-safe: its owner ({@link GpuBlockCache}) calls it under its lock. Owns the file
 * channel: close it.
 */
public final class GpuTierIndex implements AutoCloseable {
    private static final int RECORD = 1 + BlockKey.BYTES;
    private static final byte HELD = 1;
    private static final byte DROPPED = 0;

    private final Path file;
    private final List<BlockKey> lost;
    private final Set<BlockKey> held = new LinkedHashSet<>();
    private final ByteBuffer record = ByteBuffer.allocate(RECORD);
    private FileChannel channel;
    private long records;

    /**
     * Reads what the previous process held (its blocks are lost now), then starts an empty index.
     *
     * @param file the index file; created with its parent directories when absent
     * @throws UncheckedIOException when the file cannot be read or written
     */
    public GpuTierIndex(Path file) {
        this.file = file.toAbsolutePath();
        try {
            Files.createDirectories(this.file.getParent());
            this.lost = Collections.unmodifiableList(new ArrayList<>(read(this.file)));
            this.channel = FileChannel.open(this.file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the GPU tier's index " + this.file + ": " + e.getMessage(), e);
        }
    }

    /** The blocks the previous process's GPU tier held when it ended: lost with it. */
    public List<BlockKey> lost() {
        return lost;
    }

    /** The index file. */
    public Path file() {
        return file;
    }

    /** Records that {@code key} is held from now on. */
    void held(BlockKey key) {
        if (held.add(key)) {
            append(HELD, key);
        }
    }

    /** Records that {@code key} is no longer held. */
    void dropped(BlockKey key) {
        if (held.remove(key)) {
            append(DROPPED, key);
        }
    }

    private void append(byte op, BlockKey key) {
        try {
            if (records >= Math.max(1024, 4L * held.size())) {
                compact();
            }
            record.clear();
            record.put(op).put(key.toBytes()).flip();
            while (record.hasRemaining()) {
                channel.write(record);
            }
            records++;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the GPU tier's index " + file + ": " + e.getMessage(), e);
        }
    }

    /** Rewrites the file with the blocks held now (the key being recorded follows it). */
    private void compact() throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer all = ByteBuffer.allocate(RECORD * held.size());
            for (BlockKey k : held) {
                all.put(HELD).put(k.toBytes());
            }
            all.flip();
            while (all.hasRemaining()) {
                out.write(all);
            }
        }
        channel.close();
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        records = held.size();
    }

    private static Set<BlockKey> read(Path file) throws IOException {
        Set<BlockKey> keys = new LinkedHashSet<>();
        if (!Files.exists(file)) {
            return keys;
        }
        byte[] bytes = Files.readAllBytes(file);
        for (int at = 0; at + RECORD <= bytes.length; at += RECORD) {
            BlockKey key = BlockKey.fromBytes(bytes, at + 1);
            if (bytes[at] == HELD) {
                keys.add(key);
            } else {
                keys.remove(key);
            }
        }
        return keys;
    }

    /** Closes the file; the index stays (a clean stop leaves what was held, lost all the same). */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
