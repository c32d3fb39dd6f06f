package dev.ferry.cluster;

import dev.ferry.prefill.trace.TraceGenerator;
import dev.ferry.prefill.trace.TraceReader;
import dev.ferry.prefill.trace.TraceRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Where tests find the shared Mooncake trace. It is third-party data and never copied into
 * the project: tests read it from {@code $FERRY_SHARED/traces} (Maven sets that to the
 * checkout's {@code ../shared}).
 */
final class Traces {
    private Traces() {
    }

    static Optional<Path> find() {
        return Stream.of(System.getenv("FERRY_SHARED"), "../shared", "../../shared", "/work/shared")
                .filter(s -> s != null && !s.isBlank())
                .map(s -> Path.of(s, "traces", "conversation_trace.jsonl"))
                .filter(Files::isReadable).findFirst();
    }

    /** The real trace; the calling test is skipped, saying why, when it is absent. */
    static Path conversation() {
        Optional<Path> path = find();
        Assumptions.assumeTrue(path.isPresent(), "the shared Mooncake trace is not in $FERRY_SHARED/traces");
        return path.get();
    }

    /** The first {@code n} requests of the real trace, or a generated trace where it is absent. */
    static List<TraceRequest> realOrGenerated(int n) {
        return find().map(p -> TraceReader.read(p, n)).orElseGet(() -> TraceGenerator.generate(5, n));
    }
}
