package dev.ferry.store.coord;

/**
 * One key of etcd as read.
 *
 * @param key            the key
 * @param value          its value (UTF-8)
 * @param createRevision the revision that created it (unique per creation, increasing)
 * @param modRevision    the revision of its last change
 * @param lease          the lease it is bound to, 0 for none
 */
public record KeyValue(String key, String value, long createRevision, long modRevision, long lease) {
}
