package dev.ferry.prefill.trace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Where tests find the shared Mooncake trace: third-party data, never copied into the
 * project, read from {@code $FERRY_SHARED/traces} or the checkout's sibling {@code shared}.
 */
final class SharedTrace {
    private SharedTrace() {
    }

    /** The real conversation trace; the calling test is skipped, saying why, when it is absent. */
    static Path conversation() {
        Optional<Path> path = Stream.of(System.getenv("FERRY_SHARED"), "../shared", "../../shared", "/work/shared")
                .filter(s -> s != null && !s.isBlank())
                .map(s -> Path.of(s, "traces", "conversation_trace.jsonl"))
                .filter(Files::isReadable).findFirst();
        Assumptions.assumeTrue(path.isPresent(), "the shared Mooncake trace is not in $FERRY_SHARED/traces");
        return path.get();
    }
}
