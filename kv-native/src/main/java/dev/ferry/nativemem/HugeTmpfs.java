package dev.ferry.nativemem;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private tmpfs mounted with a {@code huge=} option on a new directory, for slabs on 2 MiB
 * pages where the host's /dev/shm has none: {@code mount -t tmpfs -o huge=always,size=SIZE}
 * (or, to compare, {@code huge=never}: 4 KiB pages).
 * Needs root (CAP_SYS_ADMIN) and the {@code mount} and {@code umount} commands. {@link #close()}
 * unmounts it (its files go with it) and removes the directory; so does a shutdown hook when
 * the JVM exits (a Ctrl-C) before it was closed. Thread-safe.
 */
public final class HugeTmpfs implements AutoCloseable {
    private static final long COMMAND_SECONDS = 30;

    /** The tmpfs {@code huge=} option: when its files get huge pages. */
    public enum Huge {
        /** Every file, whenever a 2 MiB page fits. */
        ALWAYS("always"),
        /** Where the file's size covers the whole 2 MiB page. */
        WITHIN_SIZE("within_size"),
        /** Only in mappings that asked for them with {@code madvise(MADV_HUGEPAGE)} (a slab does). */
        ADVISE("advise"),
        /** Never: 4 KiB pages. */
        NEVER("never");

        private final String option;

        Huge(String option) {
            this.option = option;
        }

        /** The option's value as mount takes it, e.g. {@code always}. */
        public String option() {
            return option;
        }
    }

    private final Path dir;
    private final Thread unmountAtExit;
    private boolean closed;

    private HugeTmpfs(Path dir) {
        this.dir = dir;
        this.unmountAtExit = new Thread(this::close, "ferry-unmount-" + dir.getFileName());
    }

    /**
     * Mounts a tmpfs of at most {@code sizeBytes} with {@code huge=always} on a new directory
     * under {@code parent}.
     *
     * @see #mount(Path, long, Huge)
     */
    public static HugeTmpfs mount(Path parent, long sizeBytes) {
        return mount(parent, sizeBytes, Huge.ALWAYS);
    }

    /**
     * Mounts a tmpfs of at most {@code sizeBytes} with the given {@code huge=} option on a
     * new directory under {@code parent}.
     *
     * @param parent    where the mount point is made (e.g. {@code /tmp})
     * @param sizeBytes the file system's size, bytes, at least one huge page; rounded up to
     *                  whole huge pages
     * @param huge      when files get huge pages
     * @throws IllegalArgumentException when {@code sizeBytes} is below 2 MiB
     * @throws IllegalStateException    when the mount fails (not root, no tmpfs, no
     *                                  {@code mount} command), with mount's own message; the
     *                                  directory is removed again
     * @throws UncheckedIOException     when the mount point cannot be created
     */
    public static HugeTmpfs mount(Path parent, long sizeBytes, Huge huge) {
        if (sizeBytes < Slab.HUGE_PAGE_BYTES) {
            throw new IllegalArgumentException("a huge-page tmpfs holds at least one 2 MiB page, asked for "
                    + sizeBytes + " bytes");
        }
        long size = (sizeBytes + Slab.HUGE_PAGE_BYTES - 1) / Slab.HUGE_PAGE_BYTES * Slab.HUGE_PAGE_BYTES;
        Path dir;
        try {
            dir = Files.createTempDirectory(parent, "ferry-huge-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a mount point under " + parent, e);
        }
        boolean mounted = false;
        try {
            run(List.of("mount", "-t", "tmpfs", "-o", "huge=" + huge.option() + ",mode=1777,size=" + size,
                    "ferry-huge", dir.toString()), "cannot mount a tmpfs with huge=" + huge.option() + " on " + dir
                    + " (root is needed)");
            HugeTmpfs tmpfs = new HugeTmpfs(dir);
            try {
                Runtime.getRuntime().addShutdownHook(tmpfs.unmountAtExit);
            } catch (IllegalStateException shuttingDown) {
                tmpfs.close();
                throw shuttingDown;
            }
            mounted = true;
            return tmpfs;
        } finally {
            if (!mounted) {
                deleteQuietly(dir);
            }
        }
    }

    /** The mount point: where slab files go ({@code --slab-dir}). */
    public Path dir() {
        return dir;
    }

    /**
     * Unmounts the file system (lazily, {@code umount -l}, so that a process that still maps a
     * file of it does not keep it mounted: its memory goes when the last mapping does) and
     * removes the directory. Idempotent.
     *
     * @throws IllegalStateException when {@code umount} fails
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (Thread.currentThread() != unmountAtExit) {
            try {
                Runtime.getRuntime().removeShutdownHook(unmountAtExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs or ran: this call unmounts all the same
            }
        }
        try {
            run(List.of("umount", "-l", dir.toString()), "cannot unmount " + dir);
        } finally {
            deleteQuietly(dir);
        }
    }

    private static void run(List<String> command, String failure) {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IllegalStateException(failure + ": " + e.getMessage(), e);
        }
        try {
            p.getOutputStream().close();
            byte[] output = p.getInputStream().readAllBytes();
            if (!p.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException(failure + ": " + command.getFirst() + " did not end in "
                        + COMMAND_SECONDS + " s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(failure + ": " + new String(output, StandardCharsets.UTF_8).strip()
                        + " (exit code " + p.exitValue() + ")");
            }
        } catch (IOException e) {
            throw new IllegalStateException(failure + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(failure + ": interrupted", e);
        } finally {
            p.destroyForcibly();
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a mount point that is still busy: left for the operator, the mount itself is gone
        }
    }
}
