package dev.ferry.store.gpu;

/** A block does not fit in the GPU tier's free space: evict first. Nothing was changed. */
public class GpuTierFullException extends RuntimeException {
    private final long bytesNeeded;

    /** @param bytesNeeded aligned size asked for; @param freeBytes free; @param largestFree largest free range */
    public GpuTierFullException(long bytesNeeded, long freeBytes, long largestFree) {
        super("GPU tier full: a block needs " + bytesNeeded + " bytes, " + freeBytes + " bytes free, largest free range "
                + largestFree + " bytes");
        this.bytesNeeded = bytesNeeded;
    }

    /** The aligned size the block needed, bytes. */
    public long bytesNeeded() {
        return bytesNeeded;
    }
}
