package dev.ferry.nativemem;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * A contiguous, page-aligned region of off-heap memory that Ferry registers with the
 * transfer engine as a segment.
 *
 * <p>Two kinds: {@link #allocate anonymous} memory owned by this process, and
 * {@link #mapShared shared} memory backed by a file (normally under {@code /dev/shm}) that
 * a co-located process can map too, and that outlives a crash of this process.
 *
 * <p>Thread-safety: the slab itself is immutable; its memory may be read and written from
 * any thread (the arena is shared). Closing it while another thread uses the memory is an
 * error of the caller. Close it exactly once; later access throws
 * {@link IllegalStateException}.
 */
public final class Slab implements AutoCloseable {
    /** Alignment of every slab, in bytes: one small page. */
    public static final long PAGE_BYTES = 4096;

    private final Arena arena;
    private final MemorySegment memory;
    private final Path file;
    private final boolean deleteOnClose;

    private Slab(Arena arena, MemorySegment memory, Path file, boolean deleteOnClose) {
        this.arena = arena;
        this.memory = memory;
        this.file = file;
        this.deleteOnClose = deleteOnClose;
    }

    /**
     * Allocates {@code bytes} of zeroed, page-aligned memory owned by this process.
     *
     * @param bytes size in bytes, at least 1
     * @throws IllegalArgumentException if {@code bytes < 1}
     * @throws OutOfMemoryError if the operating system refuses the memory
     */
    public static Slab allocate(long bytes) {
        requirePositive(bytes);
        Arena arena = Arena.ofShared();
        return new Slab(arena, arena.allocate(bytes, PAGE_BYTES), null, false);
    }

    /**
     * Creates (or opens, when it exists) the file at {@code path}, sizes it to {@code bytes}
     * and maps it read-write and shared.
     *
     * @param path          file to back the slab, normally under {@code /dev/shm}
     * @param bytes         size in bytes, at least 1
     * @param deleteOnClose whether {@link #close()} removes the file (false keeps the
     *                      contents for a warm restart)
     * @throws UncheckedIOException if the file cannot be created, sized or mapped
     */
    public static Slab mapShared(Path path, long bytes, boolean deleteOnClose) {
        requirePositive(bytes);
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (channel.size() != bytes) {
                channel.truncate(Math.min(channel.size(), bytes));
                if (channel.size() < bytes) {
                    // Sparse extension: tmpfs commits pages only when they are touched.
                    channel.write(java.nio.ByteBuffer.wrap(new byte[1]), bytes - 1);
                }
            }
            MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            return new Slab(arena, memory, path, deleteOnClose);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot map shared slab " + path + " of " + bytes + " bytes", e);
        }
    }

    /**
     * Maps an existing file of exactly {@code bytes} bytes, read-write and shared, without
     * creating, resizing or (on close) deleting it: another process's slab.
     *
     * @throws UncheckedIOException if the file is missing, of another size, or cannot be mapped
     */
    public static Slab mapExisting(Path path, long bytes) {
        requirePositive(bytes);
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (channel.size() != bytes) {
                throw new IOException("file holds " + channel.size() + " bytes, expected " + bytes);
            }
            return new Slab(arena, channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena), path, false);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot map slab file " + path + ": " + e.getMessage(), e);
        }
    }

    /** The whole slab; valid until {@link #close()}. */
    public MemorySegment memory() {
        return memory;
    }

    /** Size in bytes. */
    public long bytes() {
        return memory.byteSize();
    }

    /** The backing file of a shared slab; empty for anonymous memory. */
    public Optional<Path> file() {
        return Optional.ofNullable(file);
    }

    /** Unmaps or frees the memory; removes the backing file when asked to at creation. */
    @Override
    public void close() {
        arena.close();
        if (file != null && deleteOnClose) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete slab file " + file, e);
            }
        }
    }

    private static void requirePositive(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("slab size must be at least 1 byte, was " + bytes);
        }
    }
}
