package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.PutOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * What one connection owns: its shared buffers (within its quota of registered bytes) and
 * its blocks being written in ranges. A connection can name only its own buffers and
 * pending blocks. When it closes, {@link #close()} drops its buffers (each unmapped once no
 * request uses it) and hands back its pending keys for the caller to abort.
 *
 * <p>Thread-safe: requests of one connection run concurrently.
 */
final class ClientSession {
    private final long id;
    private final boolean local;
    private final long peerPid;
    private final long quotaBytes;
    private final Map<Integer, SharedBuffer> buffers = new HashMap<>();
    private final Map<BlockKey, PendingBlock> pending = new HashMap<>();
    private long registeredBytes;
    private boolean closed;
    private volatile boolean greeted;
    private volatile int version;
    private volatile PutOptions putOptions = PutOptions.DEFAULT;

    /**
     * @param local      whether the peer may share memory: on the Unix socket, as the sidecar's user
     * @param peerPid    the peer's process id (SO_PEERCRED), or -1 when unknown (TCP)
     * @param quotaBytes most bytes of shared buffers the connection may register at once
     */
    ClientSession(long id, boolean local, long peerPid, long quotaBytes) {
        this.id = id;
        this.local = local;
        this.peerPid = peerPid;
        this.quotaBytes = quotaBytes;
    }

    long id() {
        return id;
    }

    boolean local() {
        return local;
    }

    /** The peer's process id (SO_PEERCRED), or -1 when unknown. */
    long peerPid() {
        return peerPid;
    }

    boolean greeted() {
        return greeted;
    }

    /** HELLO was answered with {@code version}. */
    void greet(int version) {
        this.version = version;
        greeted = true;
    }

    /** The protocol version HELLO agreed on (0 before it). */
    int version() {
        return version;
    }

    /** How this connection's puts place and keep their blocks (PUT_OPTIONS); {@link PutOptions#DEFAULT} until set. */
    PutOptions putOptions() {
        return putOptions;
    }

    void putOptions(PutOptions options) {
        this.putOptions = options;
    }

    synchronized long registeredBytes() {
        return registeredBytes;
    }

    /**
     * Registers a buffer: checks the quota, then maps it with {@code map} (which applies
     * {@link BufferAdmission}'s rule), atomically for this connection.
     *
     * @param bytes the size the client announced, bytes
     * @param map   maps the client's file of exactly {@code bytes} bytes
     * @throws SidecarException NOT_LOCAL, OUT_OF_RANGE (refused file or size), QUOTA_EXCEEDED, BAD_STATE (closed)
     */
    synchronized SharedBuffer register(long bytes, java.util.function.Supplier<Slab> map, IntSupplier ids) {
        checkQuota(bytes);
        Slab slab = map.get();
        SharedBuffer buffer = new SharedBuffer(ids.getAsInt(), slab);
        buffers.put(buffer.id(), buffer);
        registeredBytes += bytes;
        return buffer;
    }

    /**
     * Checks that a buffer of {@code bytes} may be registered now.
     *
     * @throws SidecarException NOT_LOCAL, OUT_OF_RANGE, QUOTA_EXCEEDED, BAD_STATE (closed)
     */
    synchronized void checkQuota(long bytes) {
        if (!local) {
            throw new SidecarException(SidecarProtocol.NOT_LOCAL, "shared buffers need a client on this host, "
                    + "connected to the Unix socket as the sidecar's user; over TCP, send bytes inline "
                    + "(PUT_INLINE, GET_INLINE)");
        }
        if (closed) {
            throw new SidecarException(SidecarProtocol.BAD_STATE, "connection is closing");
        }
        if (bytes < 1) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "buffer size must be at least 1 byte, was " + bytes);
        }
        if (bytes > quotaBytes - registeredBytes) {
            throw new SidecarException(SidecarProtocol.QUOTA_EXCEEDED, "buffer of " + bytes + " bytes exceeds the "
                    + "connection's quota: " + registeredBytes + " of " + quotaBytes + " bytes registered");
        }
    }

    /**
     * Drops a buffer; it is unmapped once no request uses it.
     *
     * @throws SidecarException UNKNOWN_BUFFER when this connection did not register it
     */
    synchronized void unregister(int bufferId) {
        SharedBuffer b = buffers.remove(bufferId);
        if (b == null) {
            throw unknown(bufferId);
        }
        registeredBytes -= b.bytes();
        b.release();
    }

    /**
     * A buffer of this connection, retained for the caller (who releases it).
     *
     * @throws SidecarException UNKNOWN_BUFFER when this connection did not register it
     */
    synchronized SharedBuffer acquire(int bufferId) {
        SharedBuffer b = buffers.get(bufferId);
        if (b == null || !b.retain()) {
            throw unknown(bufferId);
        }
        return b;
    }

    private static SidecarException unknown(int bufferId) {
        return new SidecarException(SidecarProtocol.UNKNOWN_BUFFER, "buffer " + bufferId
                + " is not registered by this connection");
    }

    /** Records a block this connection writes in ranges; false when the connection is closing. */
    synchronized boolean addPending(PendingBlock block) {
        if (closed) {
            return false;
        }
        pending.put(block.key(), block);
        return true;
    }

    /**
     * @throws SidecarException BAD_STATE when this connection has no put in progress for the key
     */
    synchronized PendingBlock pending(BlockKey key) {
        PendingBlock b = pending.get(key);
        if (b == null) {
            throw new SidecarException(SidecarProtocol.BAD_STATE, "block key " + key
                    + " has no put in progress on this connection (PUT_START first)");
        }
        return b;
    }

    /** Forgets a pending block (committed or aborted); null when there was none. */
    synchronized PendingBlock removePending(BlockKey key) {
        return pending.remove(key);
    }

    synchronized int pendingCount() {
        return pending.size();
    }

    /**
     * Marks the session closed, drops every buffer (unmapped once unused) and returns the
     * keys of puts still in progress, for the caller to abort.
     */
    synchronized BlockKey[] close() {
        closed = true;
        buffers.values().forEach(SharedBuffer::release);
        buffers.clear();
        registeredBytes = 0;
        BlockKey[] keys = pending.keySet().toArray(BlockKey[]::new);
        pending.clear();
        return keys;
    }

    /** Buffers a request holds, released together when it ends. Not thread-safe: one per request. */
    static final class Held implements AutoCloseable {
        private final ClientSession session;
        private final List<SharedBuffer> held = new ArrayList<>(2);

        Held(ClientSession session) {
            this.session = session;
        }

        /** {@code [offset, offset + length)} of buffer {@code id}, which stays mapped until {@link #close()}. */
        java.lang.foreign.MemorySegment slice(int id, long offset, long length) {
            SharedBuffer b = null;
            for (SharedBuffer h : held) {
                if (h.id() == id) {
                    b = h;
                    break;
                }
            }
            if (b == null) {
                b = session.acquire(id);
                held.add(b);
            }
            return b.slice(offset, length);
        }

        @Override
        public void close() {
            held.forEach(SharedBuffer::release);
            held.clear();
        }
    }
}
