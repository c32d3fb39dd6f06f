package dev.ferry.nativemem;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A contiguous, page-aligned region of off-heap memory that Ferry registers with the
 * transfer engine as a segment.
 *
 * <p>Two kinds: {@link #allocate anonymous} memory owned by this process, and
 * {@link #mapShared shared} memory backed by a file (normally under {@code /dev/shm}) that
 * a co-located process can map too, and that outlives a crash of this process.
 *
 * <p>A shared slab asks for transparent huge pages ({@code madvise(MADV_HUGEPAGE)}) when it is
 * mapped: on a tmpfs mounted with {@code huge=advise} that gives it 2 MiB pages, on one with
 * {@code huge=always} or {@code huge=within_size} it gets them without asking, and elsewhere
 * (/dev/shm normally) the advice changes nothing. {@link #hugePageBytes()} says how much of
 * the mapping huge pages back.
 *
 * <p>Thread-safety: the slab itself is immutable; its memory may be read and written from
 * any thread (the arena is shared). Closing it while another thread uses the memory is an
 * error of the caller. Close it exactly once; later access throws
 * {@link IllegalStateException}.
 */
public final class Slab implements AutoCloseable {
    /** Alignment of every slab, in bytes: one small page. */
    public static final long PAGE_BYTES = 4096;
    /** {@code madvise} advice that faults every page of a range in, writable (Linux 5.14 and later). */
    static final int MADV_POPULATE_WRITE = 23;
    /** {@code madvise} advice that asks for transparent huge pages for a range. */
    static final int MADV_HUGEPAGE = 14;
    /** Size of a huge page (one page-middle-directory entry with 4 KiB pages), in bytes: 2 MiB. */
    public static final long HUGE_PAGE_BYTES = 2L << 20;
    private static final int EINVAL = 22;
    /** Slab files named for their owner's pid: {@code ferry-<name>-<pid>.slab}. */
    private static final Pattern OWNED_FILE = Pattern.compile("ferry-.*-(\\d+)\\.slab");

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
     * and maps it read-write and shared, asking for transparent huge pages
     * ({@code madvise(MADV_HUGEPAGE)}; where the kernel or the file system has none, the
     * advice is ignored).
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
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
             FileChannel channel = file.getChannel()) {
            if (channel.size() != bytes) {
                // ftruncate: a sparse extension, no page written (tmpfs commits pages only when
                // they are touched, and a written last byte would take a small page where the
                // mapping asks for huge ones).
                file.setLength(bytes);
            }
            MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            Madvise.hugePages(memory);
            return new Slab(arena, memory, path, deleteOnClose);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot map shared slab " + path + " of " + bytes + " bytes", e);
        }
    }

    /**
     * Maps an existing file of exactly {@code bytes} bytes, read-write and shared (asking for
     * huge pages, as {@link #mapShared} does), without
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
            MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            Madvise.hugePages(memory);
            return new Slab(arena, memory, path, false);
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

    /**
     * Removes the backing file now when it was created to be removed on close (otherwise does
     * nothing); the memory stays mapped, here and in processes that mapped the file already,
     * until they unmap it. For a process that is stopping: the file goes first, before slower
     * parts of the shutdown that a kill could cut short. Idempotent.
     *
     * @throws UncheckedIOException when the file exists but cannot be removed
     */
    public void removeFile() {
        if (file != null && deleteOnClose) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete slab file " + file, e);
            }
        }
    }

    /** Unmaps or frees the memory; removes the backing file when asked to at creation. */
    @Override
    public void close() {
        try {
            arena.close();
        } finally {
            removeFile();
        }
    }

    /**
     * Bytes of this slab's memory that huge pages (2 MiB) map in this process now: the
     * {@code ShmemPmdMapped}, {@code FilePmdMapped} and {@code AnonHugePages} of its mappings
     * in {@code /proc/self/smaps}. Pages not yet faulted in count as not huge, so call it after
     * {@link #populate()} to learn the page size the slab got. Reads and parses smaps: for
     * start-up and reports, not hot paths. Thread-safe.
     *
     * @return bytes mapped by huge pages, 0 to {@link #bytes()}; 0 where /proc is missing
     * @throws UncheckedIOException when /proc/self/smaps exists but cannot be read
     */
    public long hugePageBytes() {
        return Smaps.hugeBytes(Path.of("/proc/self/smaps"), memory.address(), memory.byteSize());
    }

    /**
     * The page size most of this slab is mapped with now, for reports: {@code "2MiB"} when
     * huge pages map at least half of it ({@link #hugePageBytes()}), else {@code "4KiB"}.
     */
    public String pageSize() {
        return hugePageBytes() * 2 >= bytes() ? "2MiB" : "4KiB";
    }

    /** How {@link #populate()} faulted the pages in. */
    public enum Population {
        /** One {@code madvise(MADV_POPULATE_WRITE)} call. */
        MADVISE,
        /** A write of one byte (its own value) per page: the kernel has no MADV_POPULATE_WRITE. */
        TOUCH
    }

    /**
     * Faults every page of the slab in, writable, now, so that the first write of each page
     * later (a transfer into a store node's slab) takes no page fault. Contents are kept.
     * Uses {@code madvise(MADV_POPULATE_WRITE)} (Linux 5.14 and later); where the kernel
     * refuses it ({@code EINVAL}), or there is no {@code madvise}, it writes one byte of each
     * page with the value it holds. Commits the slab's memory (tmpfs pages for a shared slab).
     * Call it before other threads or processes write the slab.
     *
     * @return how the pages were faulted in
     * @throws IllegalStateException when {@code madvise} fails for another reason than EINVAL
     *                               (e.g. ENOMEM: the memory cannot be committed)
     */
    public Population populate() {
        if (Madvise.populate(memory)) {
            return Population.MADVISE;
        }
        for (long at = 0; at < memory.byteSize(); at += PAGE_BYTES) {
            memory.set(ValueLayout.JAVA_BYTE, at, memory.get(ValueLayout.JAVA_BYTE, at));
        }
        return Population.TOUCH;
    }

    /**
     * Faults the pages of {@code [offset, offset + length)} in, writable, with one
     * {@code madvise(MADV_POPULATE_WRITE)} call, keeping their contents: for a mapping of
     * another process's slab (pages that exist already are only mapped). Unlike
     * {@link #populate()} it never writes the memory, so it is safe while other threads or
     * processes write it; where the kernel has no MADV_POPULATE_WRITE it does nothing.
     * Thread-safe.
     *
     * @param offset first byte, a multiple of {@link #PAGE_BYTES}
     * @param length bytes, from 0 to {@code bytes() - offset}
     * @return true when the kernel populated the range, false when it does not know the advice
     * @throws IllegalArgumentException when the range is not page-aligned or not inside the slab
     * @throws IllegalStateException    when {@code madvise} fails for another reason than EINVAL
     *                                  (ENOMEM, or EFAULT when the file was truncated under the mapping)
     */
    public boolean populateRange(long offset, long length) {
        if (offset % PAGE_BYTES != 0 || offset < 0 || length < 0 || length > bytes() - offset) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") of a slab of " + bytes()
                    + " bytes is not page-aligned or not inside it");
        }
        return length == 0 || Madvise.populate(memory.asSlice(offset, length));
    }

    /**
     * Bytes of this slab's memory that are resident in this process's mapping of it now (the
     * {@code Rss} of its mappings in {@code /proc/self/smaps}): pages this process faulted in
     * or populated. Reads and parses smaps: for tests and reports, not hot paths. Thread-safe.
     *
     * @return resident bytes, 0 to {@link #bytes()}; 0 where /proc is missing
     * @throws UncheckedIOException when /proc/self/smaps exists but cannot be read
     */
    public long residentBytes() {
        return Smaps.residentBytes(Path.of("/proc/self/smaps"), memory.address(), memory.byteSize());
    }

    /**
     * Removes the slab files in {@code dir} named {@code ferry-<name>-<pid>.slab} whose pid
     * is no longer alive: files left by a process that was killed without running its
     * cleanup. Files of live processes (this one included) are kept, and so is every other
     * file. A pid reused by an unrelated live process keeps its stale file until that
     * process ends (the safe direction).
     *
     * @return the files removed
     * @throws UncheckedIOException when {@code dir} cannot be listed or a stale file cannot be removed
     */
    public static List<Path> removeStale(Path dir) {
        List<Path> removed = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Matcher m = OWNED_FILE.matcher(file.getFileName().toString());
                if (!m.matches() || !Files.isRegularFile(file)) {
                    continue;
                }
                long pid;
                try {
                    pid = Long.parseLong(m.group(1));
                } catch (NumberFormatException tooLong) {
                    continue;
                }
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    continue;
                }
                if (Files.deleteIfExists(file)) {
                    removed.add(file);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove stale slab files in " + dir, e);
        }
        return removed;
    }

    /** {@code madvise(2)} through java.lang.foreign, with errno captured. */
    private static final class Madvise {
        private static final MethodHandle MADVISE;
        private static final MemoryLayout STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

        static {
            Linker linker = Linker.nativeLinker();
            MADVISE = linker.defaultLookup().find("madvise").map(address -> linker.downcallHandle(address,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT), Linker.Option.captureCallState("errno"))).orElse(null);
        }

        /** @return true when the kernel populated the range, false when it does not know the advice */
        static boolean populate(MemorySegment memory) {
            int errno = call(memory, MADV_POPULATE_WRITE);
            if (errno == 0) {
                return true;
            }
            if (errno == EINVAL) {
                return false;
            }
            throw new IllegalStateException("madvise(MADV_POPULATE_WRITE) of " + memory.byteSize()
                    + " bytes failed with errno " + errno);
        }

        /**
         * Asks for transparent huge pages for the range. A kernel without them answers EINVAL,
         * and the answer changes nothing either way: the pages are then small ones.
         */
        static void hugePages(MemorySegment memory) {
            call(memory, MADV_HUGEPAGE);
        }

        /** @return 0 on success, else errno ({@code EINVAL} when there is no madvise at all) */
        private static int call(MemorySegment memory, int advice) {
            if (MADVISE == null) {
                return EINVAL;
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(STATE);
                int rc = (int) MADVISE.invokeExact(state, memory, memory.byteSize(), advice);
                return rc == 0 ? 0 : (int) ERRNO.get(state, 0L);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("madvise call failed", e);
            }
        }
    }

    private static void requirePositive(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("slab size must be at least 1 byte, was " + bytes);
        }
    }
}
