package dev.ferry.transfer.transport;

/** Where a link stands in its healing cycle, as metrics report it. */
public enum LinkState {
    /** Connected; takes slices. */
    UP,
    /** Down (cut, refused, or failing): takes no slices, waits for its next probe (exponential backoff). */
    QUARANTINED,
    /** A probe (reconnect) is under way; readmitted when it succeeds. */
    PROBING
}
