package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The rule for a client's shared buffer, in one place: the sidecar maps only a file that
 * cannot shrink under it (a memfd sealed with {@code F_SEAL_SHRINK}: an access past the end
 * of a shrunk file would kill the process with SIGBUS), of exactly the announced size, and
 * never a file it maps already: not its slab, not another sidecar's slab reached over shared
 * memory, not a buffer another client (or the same one) registered. Files are told apart by
 * device and inode, not by path, since {@code /proc/<pid>/fd/<n>} paths and passed
 * descriptors reach the same file under many names; the files mapped are read from
 * {@code /proc/self/maps}. A buffer named by path must be {@code /proc/<pid>/fd/<n>} of the
 * connected peer itself.
 *
 * <p>Thread-safe: checking and mapping happen under one lock, so two registrations of one
 * file cannot both pass.
 */
final class BufferAdmission {
    private static final Pattern PROC_FD = Pattern.compile("/proc/(\\d+)/fd/(\\d+)");

    private BufferAdmission() {
    }

    /**
     * Opens the buffer a client names by path ({@code /proc/<its pid>/fd/<n>}) and maps it.
     *
     * @param peerPid the connected client's process id (SO_PEERCRED)
     * @throws SidecarException OUT_OF_RANGE when the path is not one of the peer's descriptors,
     *                          cannot be opened, or the file is refused by {@link #map}
     */
    static Slab mapPath(String pathText, long bytes, long peerPid) {
        Matcher m = PROC_FD.matcher(pathText);
        if (!m.matches() || Long.parseLong(m.group(1)) != peerPid) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "buffer path " + pathText + " is not /proc/"
                    + peerPid + "/fd/<n>: register a sealed memfd of the client's own process (or pass it with "
                    + "REGISTER_MEMFD); plain files are refused, since a file that shrinks would crash the sidecar");
        }
        int fd;
        try {
            fd = PosixFiles.openReadWrite(pathText);
        } catch (UncheckedIOException e) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "buffer " + pathText + ": "
                    + e.getCause().getMessage());
        }
        try {
            return map(fd, bytes);
        } finally {
            PosixFiles.close(fd);
        }
    }

    /**
     * Maps the file open at {@code fd} in this process (the caller keeps and closes the
     * descriptor; the mapping outlives it).
     *
     * @throws SidecarException OUT_OF_RANGE when the file is not sealed against shrinking, is
     *                          not {@code bytes} long, or is mapped by this process already
     */
    static synchronized Slab map(int fd, long bytes) {
        int seals = PosixFiles.seals(fd);
        if (seals < 0 || (seals & PosixFiles.SEAL_SHRINK) == 0) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "a buffer must be a memfd sealed against "
                    + "shrinking (memfd_create with MFD_ALLOW_SEALING, then F_ADD_SEALS F_SEAL_SHRINK): "
                    + "plain files are refused, since a file that shrinks would crash the sidecar");
        }
        Path self = Path.of("/proc/self/fd/" + fd);
        FileId id = FileId.of(self);
        if (mapped(id)) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "this file is mapped by the sidecar already "
                    + "(its store memory, or a buffer registered before): a buffer must be memory of its own");
        }
        try {
            return Slab.mapExisting(self, bytes);
        } catch (UncheckedIOException e) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "buffer: " + e.getMessage());
        }
    }

    /** Whether this process maps the file {@code id} (any mapping in {@code /proc/self/maps}). */
    static boolean mapped(FileId id) {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.anyMatch(id::matchesMapsLine);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/maps", e);
        }
    }

    /** A file's identity: device (major, minor) and inode. */
    record FileId(long major, long minor, long inode) {
        /** Of the file {@code path} leads to (links followed). */
        static FileId of(Path path) {
            Map<String, Object> a;
            try {
                a = Files.readAttributes(path, "unix:dev,ino");
            } catch (IOException e) {
                throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "cannot stat the buffer: " + e.getMessage());
            }
            long dev = (Long) a.get("dev");
            // glibc's major()/minor() of a user-space dev_t.
            long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            return new FileId(major, minor, (Long) a.get("ino"));
        }

        /** Whether a line of {@code /proc/self/maps} ({@code addr perms offset MAJ:MIN inode path}) maps this file. */
        boolean matchesMapsLine(String line) {
            String[] f = line.split("\\s+", 6);
            if (f.length < 5 || !f[4].equals(Long.toString(inode))) {
                return false;
            }
            int colon = f[3].indexOf(':');
            return colon > 0 && Long.parseLong(f[3], 0, colon, 16) == major
                    && Long.parseLong(f[3], colon + 1, f[3].length(), 16) == minor;
        }
    }
}
