package dev.ferry.transfer.segment;

/**
 * What a peer needs to reach a segment: its name, size, and the endpoint of the node that
 * serves it. Published by the owning node through the metadata service.
 *
 * @param name     unique segment name, e.g. {@code store-1/dram}
 * @param bytes    size of the segment, bytes
 * @param endpoint where the owning node's transfer engine listens
 */
public record SegmentDescriptor(String name, long bytes, Endpoint endpoint) {
}
