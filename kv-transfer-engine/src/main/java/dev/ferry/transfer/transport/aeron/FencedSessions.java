package dev.ferry.transfer.transport.aeron;

import java.util.LinkedHashMap;
import java.util.Map;
import org.agrona.collections.Int2IntHashMap;

/**
 * The target side's record of the initiators' Aeron sessions that were fenced
 * ({@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE_SESSION}): a session id with the
 * reply endpoint its requests name, so that two initiators whose drivers happened to pick one
 * session id are told apart. The receiver drops every request of a fenced session. The most
 * recent {@link #MAX_REMEMBERED} fences are remembered; a session is fenced only after its
 * initiator gave it up (closed its publication), so one evicted this late sends nothing more.
 *
 * <p>Owned by the receiver agent; not thread-safe.
 */
final class FencedSessions {
    /** Fenced sessions remembered (65,536). */
    static final int MAX_REMEMBERED = 65_536;

    private record Key(int session, String reply) {
    }

    /** Fenced keys per session id, so that the check of a request of an unfenced session allocates nothing. */
    private final Int2IntHashMap perSession = new Int2IntHashMap(0);
    private final Map<Key, Boolean> fenced = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Boolean> eldest) {
            if (size() <= MAX_REMEMBERED) {
                return false;
            }
            int left = perSession.get(eldest.getKey().session()) - 1;
            if (left == 0) {
                perSession.remove(eldest.getKey().session());
            } else {
                perSession.put(eldest.getKey().session(), left);
            }
            return true;
        }
    };

    /** Fences the session; returns false if it was fenced already. */
    boolean fence(int session, String reply) {
        if (fenced.putIfAbsent(new Key(session, reply), Boolean.TRUE) != null) {
            return false;
        }
        perSession.put(session, perSession.get(session) + 1);
        return true;
    }

    /** Whether requests of {@code session} naming {@code reply} are dropped. */
    boolean holds(int session, String reply) {
        return perSession.get(session) != 0 && fenced.containsKey(new Key(session, reply));
    }
}
