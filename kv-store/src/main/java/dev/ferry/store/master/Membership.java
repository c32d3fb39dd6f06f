package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.master.MasterException.Reason;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registered store nodes and their segments: each node's features, last heartbeat and
 * SSD health, and which node owns which segment. What the nodes hold is the
 * {@link BlockTable}'s. Not thread-safe: guarded by the master's lock.
 */
final class Membership {
    private static final Logger LOG = LoggerFactory.getLogger(Master.class);
    private final Map<String, NodeState> nodes = new HashMap<>();
    /** By name, in the order of registration (placement breaks ties in this order). */
    private final Map<String, SegmentState> segments = new LinkedHashMap<>();

    NodeState node(String id) {
        return nodes.get(id);
    }

    /**
     * @throws MasterException REFUSED when the node is unknown (declared dead), with {@code why} appended
     */
    NodeState known(String id, String why) {
        NodeState node = nodes.get(id);
        if (node == null) {
            throw new MasterException(Reason.REFUSED, "unknown node '" + id + "'" + why);
        }
        return node;
    }

    SegmentState segment(String name) {
        return segments.get(name);
    }

    /**
     * The segment a writer names as its preferred one: by segment name, else the segment of
     * the node of that id, else the segment one of whose endpoints is {@code host:port}
     * (Mooncake names segments by address); null when none matches.
     */
    SegmentState preferred(String name) {
        SegmentState s = segments.get(name);
        if (s != null) {
            return s;
        }
        for (SegmentState c : segments.values()) {
            if (c.nodeId().equals(name)) {
                return c;
            }
        }
        for (SegmentState c : segments.values()) {
            for (var e : c.descriptor().endpoints()) {
                if (e.toString().equals(name)) {
                    return c;
                }
            }
        }
        return null;
    }

    /** The node that owns the segment, or null. */
    NodeState ownerOf(String segment) {
        SegmentState s = segments.get(segment);
        return s == null ? null : nodes.get(s.nodeId());
    }

    Collection<SegmentState> segments() {
        return segments.values();
    }

    Collection<NodeState> nodes() {
        return nodes.values();
    }

    /**
     * Registers a node with one segment. The caller has removed the node's previous registration.
     *
     * @throws MasterException REFUSED when another node owns the segment name
     */
    SegmentState add(String nodeId, SegmentDescriptor segment, NodeFeatures features, long now) {
        SegmentState previous = segments.get(segment.name());
        if (previous != null) {
            throw new MasterException(Reason.REFUSED, "segment '" + segment.name() + "' is already registered by node '"
                    + previous.nodeId() + "'");
        }
        NodeState node = new NodeState(nodeId, now, features);
        node.segments.add(segment.name());
        nodes.put(nodeId, node);
        SegmentState state = new SegmentState(nodeId, segment, new OffsetAllocator(segment.bytes()));
        segments.put(segment.name(), state);
        return state;
    }

    /** Removes the node and its segments; whoever waits on the node stops waiting. */
    void remove(NodeState node) {
        nodes.remove(node.id);
        node.abandon();
        for (String name : node.segments) {
            segments.remove(name);
        }
    }

    /** The nodes silent for longer than {@code timeoutNanos} at {@code now}. */
    List<NodeState> silent(long now, long timeoutNanos) {
        List<NodeState> silent = new ArrayList<>(0);
        for (NodeState node : nodes.values()) {
            if (now - node.lastHeartbeat > timeoutNanos) {
                silent.add(node);
            }
        }
        return silent;
    }

    /** Records what the node reports of its SSD tier; demotion there resumes when it is OK again. */
    void ssdHealth(NodeState node, SsdHealth now) {
        if (node.ssdHealth == now || !node.features.ssd()) {
            return;
        }
        if (now == SsdHealth.OK) {
            LOG.info("store node {}: SSD tier takes writes again; demotion resumes", node.id);
            for (String name : node.segments) {
                segments.get(name).demotionFailed = false; // its failures were the disk's, now over
            }
        } else {
            LOG.warn("store node {}: SSD tier {}; no demotion there, full DRAM evicts instead", node.id,
                    now == SsdHealth.FULL ? "full" : "failing");
        }
        node.ssdHealth = now;
    }

    /** Whether the master may demote blocks to the SSD tier of the segment's node now. */
    boolean demotesTo(SegmentState s) {
        NodeState node = nodes.get(s.nodeId());
        return node != null && node.features.ssd() && node.ssdHealth == SsdHealth.OK;
    }

    /** Nodes with an SSD tier (healthy or not). */
    int ssdNodes() {
        int n = 0;
        for (NodeState node : nodes.values()) {
            if (node.features.ssd()) {
                n++;
            }
        }
        return n;
    }

    long capacityBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator().capacity()).sum();
    }

    long usedBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator().capacity() - s.allocator().freeBytes()).sum();
    }

    long largestSegment() {
        return segments.values().stream().mapToLong(s -> s.allocator().capacity()).max().orElse(0);
    }

    long backlog() {
        return nodes.values().stream().mapToLong(NodeState::backlog).sum();
    }
}
