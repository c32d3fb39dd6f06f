package dev.ferry.transfer.slice;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/**
 * One contiguous piece of a transfer request, sent on one link at a time. Slices are
 * offset-addressed, so sending one again (after a failure) can never corrupt the target:
 * the same bytes land at the same offset.
 *
 * <p>Not thread-safe by itself: at any moment one link (or the engine, between attempts)
 * owns the slice.
 */
public final class Slice {
    private static final ThreadLocal<CRC32C> CRC = ThreadLocal.withInitial(CRC32C::new);

    private final long id;
    private final Opcode opcode;
    private final MemorySegment local;
    private final long localOffset;
    private final String target;
    private final long targetOffset;
    private final int length;
    private final SliceOwner owner;
    private final int priority;
    private int attempts;
    private long sentNanos;
    private LinkId avoid;
    /** CRC32C of the local bytes, valid once {@link #crcKnown} is set; written before it, so a reader that sees the flag sees the value. */
    private int payloadCrc;
    private volatile boolean crcKnown;

    public Slice(long id, Opcode opcode, MemorySegment local, long localOffset, String target, long targetOffset,
                 int length, int priority, SliceOwner owner) {
        this.priority = priority;
        this.id = id;
        this.opcode = opcode;
        this.local = local;
        this.localOffset = localOffset;
        this.target = target;
        this.targetOffset = targetOffset;
        this.length = length;
        this.owner = owner;
    }

    /** Unique within the engine that made it; frames carry it. */
    public long id() {
        return id;
    }

    public Opcode opcode() {
        return opcode;
    }

    /** The local bytes of this slice ({@code length} bytes). */
    public MemorySegment localBytes() {
        return local.asSlice(localOffset, length);
    }

    /**
     * Address of the local bytes when they are native memory, else 0 (heap memory: use
     * {@link #localBytes()}). Lets a hot path point a view at them without making a segment.
     */
    public long localAddress() {
        return local.isNative() ? local.address() + localOffset : 0;
    }

    public String target() {
        return target;
    }

    /** Offset into the target segment, bytes. */
    public long targetOffset() {
        return targetOffset;
    }

    /** Bytes. */
    public int length() {
        return length;
    }

    /** Priority of its request: 0 (high) to 2 (low). */
    public int priority() {
        return priority;
    }

    public SliceOwner owner() {
        return owner;
    }

    /** How many times this slice has been handed to a link. */
    public int attempts() {
        return attempts;
    }

    /** Records a send on a link at {@code nanoTime}. */
    public void markSent(long nanoTime) {
        attempts++;
        sentNanos = nanoTime;
    }

    /** The link this slice last failed on, to be avoided by its resend; null at first. */
    public LinkId avoid() {
        return avoid;
    }

    /** Records the link this slice failed on, for its resend to avoid. */
    public void avoid(LinkId link) {
        this.avoid = link;
    }

    /**
     * CRC32C of the local bytes, computed on the first call and kept for resends (the bytes of
     * a request must not change until it completes). For Aeron, whose message head carries it,
     * the engine computes it on the submitting thread, so that the thread that sends the slice
     * only copies; TCP checksums while it sends instead. Thread-safe: racing first calls compute
     * the same value.
     */
    public int payloadCrc() {
        if (!crcKnown) {
            CRC32C crc = CRC.get();
            crc.reset();
            crc.update(localBytes().asByteBuffer());
            payloadCrc = (int) crc.getValue();
            crcKnown = true;
        }
        return payloadCrc;
    }

    /** {@link System#nanoTime()} of the latest send. */
    public long sentNanos() {
        return sentNanos;
    }
}
