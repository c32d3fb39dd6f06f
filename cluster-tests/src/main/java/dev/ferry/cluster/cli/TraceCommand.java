package dev.ferry.cluster.cli;

import dev.ferry.prefill.trace.TraceGenerator;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes a generated trace in the Mooncake FAST'25 format. */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Generate a seeded trace in the Mooncake FAST'25 JSONL format.")
final class TraceCommand implements Runnable {
    @Option(names = "--requests", defaultValue = "1000", description = "Requests (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, description = "Output file (.jsonl).")
    Path out;

    @Override
    public void run() {
        TraceGenerator.write(TraceGenerator.generate(seed, requests), out);
        System.out.println("wrote " + requests + " requests to " + out);
    }
}
