package dev.ferry.transfer.metrics;

/**
 * How far an engine has populated its mappings of other processes' slabs (shared memory):
 * a writer maps a store node's slab and populates the rest of that mapping in the background
 * from its first WRITE through it, so that later writes take no page faults. Immutable;
 * thread-safe.
 *
 * @param bytes  bytes of mappings populated so far (0 when lazy or when nothing was written
 *               through shared memory)
 * @param millis time spent populating them, ms, summed over mappings
 */
public record MappingPopulation(long bytes, double millis) {
    /** Nothing populated. */
    public static final MappingPopulation NONE = new MappingPopulation(0, 0);

    public MappingPopulation {
        if (bytes < 0 || millis < 0 || Double.isNaN(millis)) {
            throw new IllegalArgumentException("populated " + bytes + " bytes in " + millis + " ms");
        }
    }
}
