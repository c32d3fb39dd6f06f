package dev.ferry.store.tier;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A small tmpfs mounted for a test: a real file system that fills up ({@code ENOSPC}).
 * Needs root; {@link #mount} skips the test (an assumption) where it cannot mount.
 * Closing unmounts it.
 */
public final class TmpfsMount implements AutoCloseable {
    private final Path dir;

    private TmpfsMount(Path dir) {
        this.dir = dir;
    }

    /**
     * Mounts a tmpfs of {@code bytes} at {@code dir} (created when missing).
     *
     * @throws org.opentest4j.TestAbortedException when not root or mount fails
     */
    public static TmpfsMount mount(Path dir, long bytes) throws IOException, InterruptedException {
        assumeTrue("root".equals(System.getProperty("user.name")),
                "mounting a tmpfs to fill up needs root; running as " + System.getProperty("user.name"));
        Files.createDirectories(dir);
        int rc = run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", dir.toString());
        assumeTrue(rc == 0, "cannot mount a tmpfs at " + dir + " (mount exited " + rc + ")");
        return new TmpfsMount(dir);
    }

    public Path dir() {
        return dir;
    }

    /** Bytes free on the mount now. */
    public long usableBytes() throws IOException {
        return Files.getFileStore(dir).getUsableSpace();
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (run("umount", dir.toString()) != 0 && run("umount", "-l", dir.toString()) != 0) {
            throw new IOException("cannot unmount the tmpfs at " + dir);
        }
    }
}
