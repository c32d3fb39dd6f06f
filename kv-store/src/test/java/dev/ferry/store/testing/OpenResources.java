package dev.ferry.store.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * What a test opened, closed newest first: every resource is closed even when an earlier
 * close throws; the first failure is thrown with the later ones suppressed. Not thread-safe:
 * one test thread.
 */
public final class OpenResources implements AutoCloseable {
    private final List<AutoCloseable> open = new ArrayList<>();

    /** Closes {@code resource} with the others; returns it. */
    public <T extends AutoCloseable> T own(T resource) {
        open.add(resource);
        return resource;
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        open.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
