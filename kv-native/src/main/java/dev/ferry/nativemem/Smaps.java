package dev.ferry.nativemem;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads how much of a range of a process's address space huge pages map, or is resident, from a
 * {@code /proc/<pid>/smaps} file. Stateless; thread-safe.
 */
final class Smaps {
    private Smaps() {
    }

    /**
     * Bytes mapped by huge pages ({@code ShmemPmdMapped}, {@code FilePmdMapped} and
     * {@code AnonHugePages}, in kB) in the mappings that overlap {@code [address, address + bytes)},
     * capped at {@code bytes}. A mapping that only partly overlaps the range counts whole: the
     * kernel does not say where in a mapping its huge pages are.
     *
     * @param smaps   the smaps file, normally {@code /proc/self/smaps}
     * @param address the range's first byte
     * @param bytes   the range's length, bytes
     * @return bytes mapped by huge pages; 0 when the file does not exist
     * @throws UncheckedIOException when the file exists but cannot be read
     */
    static long hugeBytes(Path smaps, long address, long bytes) {
        return sum(smaps, address, bytes, "ShmemPmdMapped:", "FilePmdMapped:", "AnonHugePages:");
    }

    /**
     * Resident bytes ({@code Rss}, in kB) of the mappings that overlap
     * {@code [address, address + bytes)}, capped at {@code bytes}; a mapping that only partly
     * overlaps the range counts whole.
     *
     * @return resident bytes; 0 when the file does not exist
     * @throws UncheckedIOException when the file exists but cannot be read
     */
    static long residentBytes(Path smaps, long address, long bytes) {
        return sum(smaps, address, bytes, "Rss:");
    }

    private static long sum(Path smaps, long address, long bytes, String... fields) {
        long end = address + bytes;
        long kib = 0;
        boolean inRange = false;
        try (BufferedReader in = Files.newBufferedReader(smaps)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash > 0 && space > dash && isHex(line, 0, dash)) { // "start-end perms offset dev inode path"
                    long start = Long.parseUnsignedLong(line, 0, dash, 16);
                    long stop = Long.parseUnsignedLong(line, dash + 1, space, 16);
                    inRange = Long.compareUnsigned(start, end) < 0 && Long.compareUnsigned(stop, address) > 0;
                } else if (inRange && startsWithAny(line, fields)) {
                    kib += Long.parseLong(line.substring(line.indexOf(':') + 1).replace("kB", "").trim());
                }
            }
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + smaps, e);
        }
        return Math.min(bytes, kib * 1024);
    }

    private static boolean startsWithAny(String line, String... prefixes) {
        for (String prefix : prefixes) {
            if (line.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }
}
