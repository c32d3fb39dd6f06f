package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Slice;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * The slices an {@link AeronTransport} has sent and not had answered, in a table of
 * preallocated entries: nothing is allocated or boxed per slice. An entry's key is what the
 * message carries as its slice id ({@code generation << 16 | index}), so an answer finds its
 * entry by index, and an answer that comes after its entry was freed (the slice stalled and
 * was resent elsewhere) finds another generation there and is ignored.
 *
 * <p>Thread-safety: {@link #claim} and {@link #arm} by the sender only; {@link #find} and
 * {@link #take} by the sender and the receiver, which race on {@code take}: exactly one
 * of them takes an armed entry (a compare-and-set of its key), and frees it.
 */
final class OutstandingSlices {
    /** Entries in the table: slices in flight per transport at most. */
    static final int CAPACITY = 1 << 14;
    private static final int INDEX_BITS = 16;
    private static final long INDEX_MASK = (1L << INDEX_BITS) - 1;
    private static final VarHandle KEY;

    static {
        try {
            KEY = MethodHandles.lookup().findVarHandle(Entry.class, "key", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One slice in flight: its link and the key its message carries; free while its key is 0. */
    static final class Entry {
        final int index;
        private long generation;
        @SuppressWarnings("unused") // through KEY
        private volatile long key;
        private Slice slice;
        private AeronLink link;
        private int session;

        Entry(int index) {
            this.index = index;
        }

        /** The slice, valid between a successful {@link #find} or {@link #take} and the entry's release. */
        Slice slice() {
            return slice;
        }

        /** The link the slice went on. */
        AeronLink link() {
            return link;
        }

        /** The Aeron session id of the publication the slice was offered on. */
        int session() {
            return session;
        }

        /** The key the slice's message carries, or 0 when free. */
        long key() {
            return (long) KEY.getAcquire(this);
        }
    }

    private final Entry[] entries = new Entry[CAPACITY];
    private final ManyToOneConcurrentArrayQueue<Entry> free = new ManyToOneConcurrentArrayQueue<>(CAPACITY);

    OutstandingSlices() {
        for (int i = 0; i < CAPACITY; i++) {
            entries[i] = new Entry(i);
            free.offer(entries[i]);
        }
    }

    /** A free entry, or null when {@link #CAPACITY} slices are in flight. Sender only. */
    Entry claim() {
        return free.poll();
    }

    /** Hands back an entry claimed and never armed. Sender only. */
    void unclaim(Entry entry) {
        free.offer(entry);
    }

    /**
     * Arms a claimed entry with a slice about to be offered on the publication of
     * {@code session}; returns the key its message carries. The slice's send time must be marked before (the receiver reads it). Sender only.
     */
    long arm(Entry entry, Slice slice, AeronLink link, int session) {
        entry.slice = slice;
        entry.link = link;
        entry.session = session;
        long key = (++entry.generation << INDEX_BITS) | entry.index;
        KEY.setRelease(entry, key);
        return key;
    }

    /** The armed entry that carries {@code key}, or null (freed, or never ours). */
    Entry find(long key) {
        if (key <= 0) {
            return null;
        }
        Entry entry = entries[(int) (key & INDEX_MASK) % CAPACITY];
        return entry.key() == key ? entry : null;
    }

    /**
     * Takes the entry that carries {@code key}, freeing it: the caller then owns the outcome of
     * its slice. Read the entry's slice and link before (they are cleared here). False when
     * someone took it first or the key is stale.
     */
    boolean take(Entry entry, long key) {
        if (!KEY.compareAndSet(entry, key, 0L)) {
            return false;
        }
        entry.slice = null;
        entry.link = null;
        free.offer(entry);
        return true;
    }

    /** The entry at {@code index}, for a scan of the whole table (stall checks). */
    Entry at(int index) {
        return entries[index];
    }
}
