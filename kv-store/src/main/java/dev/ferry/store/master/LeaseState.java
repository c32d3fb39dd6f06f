package dev.ferry.store.master;

import java.util.List;

/** A granted lease: its keys and deadline (ns). Guarded by the master's lock. */
final class LeaseState {
    final List<Long> keys;
    long deadline;

    LeaseState(List<Long> keys, long deadline) {
        this.keys = keys;
        this.deadline = deadline;
    }
}
