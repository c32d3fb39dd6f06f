package dev.ferry.transfer.segment;

import java.util.List;

/**
 * What a peer needs to reach a segment: its name and size, the TCP endpoints of the node
 * that serves it (one per interface; each gets its own links), and, when the segment is a
 * file that co-located processes may map, that file and the identity of the host.
 *
 * @param name      unique segment name, e.g. {@code store-1/dram}
 * @param bytes     size of the segment, bytes
 * @param endpoints where the owning node's transfer engine listens, at least one
 * @param hostId    identity of the owning host ({@link HostIdentity}); shared memory is used
 *                  only between processes with equal host ids
 * @param file      the backing file (e.g. under {@code /dev/shm}), or empty when the memory
 *                  cannot be mapped by another process
 * @param aeronEndpoints where the node's Aeron transport subscribes, or empty when it runs none
 * @param aeronIpc  where the node receives over Aeron IPC, or null when its Aeron transport
 *                  shares no media driver with other processes
 */
public record SegmentDescriptor(String name, long bytes, List<Endpoint> endpoints, String hostId, String file,
                                List<Endpoint> aeronEndpoints, AeronIpc aeronIpc) {
    public SegmentDescriptor {
        endpoints = List.copyOf(endpoints);
        aeronEndpoints = aeronEndpoints == null ? List.of() : List.copyOf(aeronEndpoints);
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("segment '" + name + "' needs at least one endpoint");
        }
        hostId = hostId == null ? "" : hostId;
        file = file == null ? "" : file;
    }

    /** Without Aeron IPC. */
    public SegmentDescriptor(String name, long bytes, List<Endpoint> endpoints, String hostId, String file,
                             List<Endpoint> aeronEndpoints) {
        this(name, bytes, endpoints, hostId, file, aeronEndpoints, null);
    }

    /** Without Aeron. */
    public SegmentDescriptor(String name, long bytes, List<Endpoint> endpoints, String hostId, String file) {
        this(name, bytes, endpoints, hostId, file, List.of());
    }

    /** A segment reachable over TCP only, at one endpoint. */
    public SegmentDescriptor(String name, long bytes, Endpoint endpoint) {
        this(name, bytes, List.of(endpoint), "", "");
    }

    /** The first endpoint. */
    public Endpoint endpoint() {
        return endpoints.getFirst();
    }
}
