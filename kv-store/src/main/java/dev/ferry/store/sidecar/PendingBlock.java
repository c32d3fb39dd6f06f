package dev.ferry.store.sidecar;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Placement;
import java.util.Map;
import java.util.TreeMap;

/**
 * A block being written in ranges (PUT_START, WRITE_RANGE..., PUT_COMMIT): where it was
 * allocated and which ranges have been written, each with its CRC32C, so that the commit
 * can check the ranges tile the block exactly and derive the block's CRC32C without
 * reading it back ({@link Crc32cCombine}).
 *
 * <p>Thread-safe.
 */
final class PendingBlock {
    private final Placement placement;
    /** offset -> {length, crc}. */
    private final TreeMap<Long, long[]> ranges = new TreeMap<>();

    PendingBlock(Placement placement) {
        this.placement = placement;
    }

    Placement placement() {
        return placement;
    }

    BlockKey key() {
        return placement.key();
    }

    /**
     * Checks that {@code [offset, offset + length)} lies in the block and overlaps no other
     * range written so far (writing the same range again replaces it).
     *
     * @throws SidecarException OUT_OF_RANGE or BAD_STATE
     */
    synchronized void check(long offset, long length) {
        if (offset < 0 || length < 1 || offset > placement.length() - length) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "range [" + offset + ", +" + length
                    + ") lies outside block key " + key() + " of " + placement.length() + " bytes");
        }
        Map.Entry<Long, long[]> below = ranges.floorEntry(offset);
        if (below != null && below.getKey() == offset && below.getValue()[0] == length) {
            return;
        }
        Map.Entry<Long, long[]> before = ranges.lowerEntry(offset + length);
        if (before != null && before.getKey() + before.getValue()[0] > offset) {
            throw new SidecarException(SidecarProtocol.BAD_STATE, "range [" + offset + ", +" + length
                    + ") of block key " + key() + " overlaps the range written at " + before.getKey());
        }
    }

    /** Records a written range and the CRC32C of its bytes. */
    synchronized void written(long offset, long length, int crc) {
        check(offset, length);
        ranges.put(offset, new long[] {length, crc});
    }

    /**
     * @return the CRC32C of the whole block
     * @throws SidecarException BAD_STATE when the written ranges leave a gap
     */
    synchronized int crcOfWholeBlock() {
        long at = 0;
        int crc = 0;
        for (Map.Entry<Long, long[]> r : ranges.entrySet()) {
            if (r.getKey() != at) {
                break;
            }
            long length = r.getValue()[0];
            crc = at == 0 ? (int) r.getValue()[1] : Crc32cCombine.combine(crc, (int) r.getValue()[1], length);
            at += length;
        }
        if (at != placement.length()) {
            throw new SidecarException(SidecarProtocol.BAD_STATE, "block key " + key() + " is incomplete: bytes ["
                    + at + ", " + placement.length() + ") were never written");
        }
        return crc;
    }
}
