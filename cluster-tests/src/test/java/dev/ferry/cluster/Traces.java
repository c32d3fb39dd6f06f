package dev.ferry.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Where tests find the shared Mooncake trace (never copied into the project). */
final class Traces {
    private Traces() {
    }

    static Path conversation() {
        String shared = System.getenv().getOrDefault("FERRY_SHARED", "../../shared");
        Path path = Path.of(shared, "traces", "conversation_trace.jsonl");
        Assumptions.assumeTrue(Files.isReadable(path), "the shared trace is not at " + path);
        return path;
    }
}
