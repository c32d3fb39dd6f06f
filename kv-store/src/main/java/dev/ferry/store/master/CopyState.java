package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.index.IndexedBlock;

/**
 * One replica of a block, on one node: its state in each tier of the node, {@link Dram} and
 * {@link Ssd}. Every change goes through {@link #dram(Dram, long)} and {@link #ssd(Ssd)}, which
 * keep the segment's counters ({@link SegmentState#demoting()}, {@link SegmentState#ssdBytes()})
 * exact, so that demotion needs no walk of the blocks. A tier beyond these two gets an enum of
 * its own here. Guarded by the master's lock.
 */
final class CopyState {
    /** The copy's state in the node's DRAM segment. */
    enum Dram {
        /** No DRAM range. */
        NONE,
        /** A range was allocated for a promotion from SSD that the node has not confirmed: not readable yet. */
        LOADING,
        /** Readable in DRAM. */
        RESIDENT,
        /**
         * Readable in DRAM, and the node was asked to write it to SSD: the range is freed once
         * the node reports it written (unless a reader holds it then).
         */
        DEMOTING;

        /** Whether a reader may read the range now. */
        boolean readable() {
            return this == RESIDENT || this == DEMOTING;
        }
    }

    /** The copy's state on the node's SSD tier. */
    enum Ssd {
        /** Not on SSD. */
        NONE,
        /** The SSD tier holds the block. */
        STORED
    }

    final String segment;
    private final SegmentState seg;
    private final long length;
    private Dram dram;
    private long offset;
    private Ssd ssd = Ssd.NONE;

    /** A copy in DRAM at {@code offset} ({@link Dram#RESIDENT}), or with no DRAM range when offset is {@link IndexedBlock#ON_SSD}. */
    CopyState(SegmentState seg, long offset, long length) {
        this.segment = seg.descriptor().name();
        this.seg = seg;
        this.length = length;
        this.offset = offset;
        this.dram = offset == IndexedBlock.ON_SSD ? Dram.NONE : Dram.RESIDENT;
    }

    Dram dram() {
        return dram;
    }

    Ssd ssd() {
        return ssd;
    }

    /** Offset of the DRAM range, or {@link IndexedBlock#ON_SSD} when the copy has none. */
    long offset() {
        return offset;
    }

    SegmentState segmentState() {
        return seg;
    }

    /** Whether the copy has a DRAM range (readable or being loaded). */
    boolean inDram() {
        return dram != Dram.NONE;
    }

    /** Whether the copy is on SSD or on its way there (what counts against the SSD's capacity). */
    boolean claimsSsd() {
        return ssd == Ssd.STORED || dram == Dram.DEMOTING;
    }

    /** Moves the DRAM state to {@code next}, with its range at {@code offset} ({@link IndexedBlock#ON_SSD} for NONE). */
    void dram(Dram next, long offset) {
        seg.uncount(this);
        this.dram = next;
        this.offset = next == Dram.NONE ? IndexedBlock.ON_SSD : offset;
        seg.count(this);
    }

    /** Moves the DRAM state to {@code next}, keeping the range. */
    void dram(Dram next) {
        dram(next, offset);
    }

    void ssd(Ssd next) {
        seg.uncount(this);
        this.ssd = next;
        seg.count(this);
    }

    /** The copy leaves its block: it no longer counts in its segment. */
    void detach() {
        seg.uncount(this);
    }

    long length() {
        return length;
    }

    long alignedLength() {
        return OffsetAllocator.aligned(length);
    }

    @Override
    public String toString() {
        return segment + "@" + offset + "[" + dram + "," + ssd + "]";
    }
}
