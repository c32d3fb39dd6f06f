package dev.ferry.nativemem.device;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * What a device memory has handed out and still owns: closed in reverse order of opening when
 * the device memory closes. Thread-safe.
 */
final class Owned {
    private final String owner;
    private final LinkedHashSet<AutoCloseable> open = new LinkedHashSet<>();
    private boolean closed;

    Owned(String owner) {
        this.owner = owner;
    }

    /** @throws IllegalStateException when the owner is closed */
    synchronized void requireOpen() {
        if (closed) {
            throw new IllegalStateException(owner + " is closed");
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Adds {@code child}; when the owner was closed meanwhile, closes the child instead.
     *
     * @throws IllegalStateException when the owner is closed
     */
    <T extends AutoCloseable> T adopt(T child) {
        synchronized (this) {
            if (!closed) {
                open.add(child);
                return child;
            }
        }
        try {
            child.close();
        } catch (Exception ignored) {
            // closing what could not be adopted; the IllegalStateException below says why
        }
        throw new IllegalStateException(owner + " is closed");
    }

    synchronized void remove(AutoCloseable child) {
        open.remove(child);
    }

    /**
     * Marks the owner closed and closes every child, newest first; the first failure is
     * thrown after all were tried, later ones suppressed.
     *
     * @return false when it was closed already
     */
    boolean closeAll() {
        List<AutoCloseable> children;
        synchronized (this) {
            if (closed) {
                return false;
            }
            closed = true;
            children = new ArrayList<>(open).reversed();
            open.clear();
        }
        RuntimeException first = null;
        for (AutoCloseable child : children) {
            try {
                child.close();
            } catch (Exception e) {
                RuntimeException wrapped = e instanceof RuntimeException r ? r
                        : new DeviceException("cannot close " + child, e);
                if (first == null) {
                    first = wrapped;
                } else {
                    first.addSuppressed(wrapped);
                }
            }
        }
        if (first != null) {
            throw first;
        }
        return true;
    }
}
