package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.LruPolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Child process of {@link SsdTierTest}: opens a tier, puts blocks {@code 0 .. count-1} of
 * {@code bytes} each, prints {@link #DONE} once every put completed, then waits to be killed
 * without closing the tier.
 *
 * <p>Arguments: directory, count, bytes.
 */
public final class CrashingWriter {
    static final String DONE = "PUTS-COMPLETED";

    private CrashingWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        long bytes = Long.parseLong(args[2]);
        SsdTier tier = SsdTier.open(dir, 1L << 30, new LruPolicy(), 2);
        Arena arena = Arena.ofShared();
        for (long key = 0; key < count; key++) {
            MemorySegment block = arena.allocate(bytes);
            BlockContent.fill(key, block);
            tier.put(BlockKey.of(key), block, BlockContent.crc32c(block)).join();
        }
        System.out.println(DONE);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE); // killed here, the tier never closed
    }
}
