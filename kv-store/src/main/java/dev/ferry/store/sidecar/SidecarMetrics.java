package dev.ferry.store.sidecar;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The sidecar's meters (Micrometer; exported in Prometheus text format by
 * {@link HealthServer}): requests and their latency per operation (a histogram), errors per
 * status, block hits and misses, bytes in and out, string-key mismatches of named requests. Meters are created up front, so recording
 * does not allocate.
 *
 * <p>Thread-safe.
 */
public final class SidecarMetrics {
    private final MeterRegistry registry;
    private final Timer[] latency = new Timer[SidecarProtocol.MAX_OPCODE + 2];
    /** Per opcode, the time a request waits for a request thread ({@code queued}) and for its answer to be sent ({@code answered}). */
    private final Timer[][] phases = new Timer[SidecarProtocol.MAX_OPCODE + 2][Phase.values().length];

    /** Parts of a request's time outside its serving (which {@code ferry.sidecar.requests} times). */
    enum Phase {
        /** From its frame decoded on the event loop to a request thread starting it. */
        QUEUED,
        /** From its answer finished on the request thread to the answer written to the socket. */
        ANSWERED
    }
    private final Counter[] errors = new Counter[SidecarProtocol.MAX_STATUS + 1];
    private final Counter hits;
    private final Counter misses;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final Counter malformed;
    private final Counter keyMismatches;
    private final Counter copiedProcessMemory;
    private final Counter copiedSharedBuffer;
    private final Counter processMemoryRefused;

    public SidecarMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (int op = 1; op < latency.length; op++) {
            latency[op] = Timer.builder("ferry.sidecar.requests").description("requests served, and their latency")
                    .tag("op", SidecarProtocol.opcodeName(op)).publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofNanos(1_000)).maximumExpectedValue(Duration.ofSeconds(10))
                    .register(registry);
        }
        for (int op = 1; op < phases.length; op++) {
            for (Phase phase : Phase.values()) {
                phases[op][phase.ordinal()] = Timer.builder("ferry.sidecar.request.phase")
                        .description("time a request spends outside its serving: queued for a request thread, "
                                + "or its answer on the way to the socket")
                        .tag("op", SidecarProtocol.opcodeName(op)).tag("phase", phase.name().toLowerCase())
                        .register(registry);
            }
        }
        for (int s = 1; s < errors.length; s++) {
            errors[s] = Counter.builder("ferry.sidecar.errors").description("requests answered with an error")
                    .tag("status", SidecarProtocol.statusName(s)).register(registry);
        }
        hits = Counter.builder("ferry.sidecar.hits").description("block keys found by get, exists and prefix lookups")
                .register(registry);
        misses = Counter.builder("ferry.sidecar.misses").description("block keys not found by get, exists and prefix "
                + "lookups").register(registry);
        bytesIn = Counter.builder("ferry.sidecar.bytes").baseUnit("bytes").tag("direction", "in")
                .description("block bytes written to the store").register(registry);
        bytesOut = Counter.builder("ferry.sidecar.bytes").baseUnit("bytes").tag("direction", "out")
                .description("block bytes read from the store").register(registry);
        malformed = Counter.builder("ferry.sidecar.frames.malformed").description("frames that could not be decoded "
                + "(connection closed)").register(registry);
        keyMismatches = Counter.builder("ferry.sidecar.key.mismatches").description("hits of named requests on a "
                + "block holding another string key (answered as misses, never with its bytes)").register(registry);
        copiedProcessMemory = Counter.builder("ferry.sidecar.copy.bytes").baseUnit("bytes")
                .tag("path", "process_memory").description("value bytes PUT_FROM and GET_INTO copied, by the "
                        + "memory they came from or went to").register(registry);
        copiedSharedBuffer = Counter.builder("ferry.sidecar.copy.bytes").baseUnit("bytes")
                .tag("path", "shared_buffer").description("value bytes PUT_FROM and GET_INTO copied, by the "
                        + "memory they came from or went to").register(registry);
        processMemoryRefused = Counter.builder("ferry.sidecar.process.memory.refused").description("PUT_FROM and "
                + "GET_INTO requests refused with NO_PROCESS_ACCESS (the client falls back to shared buffers)")
                .register(registry);
    }

    /**
     * Value bytes copied by PUT_FROM or GET_INTO straight from or to a client's private
     * memory ({@code processMemory}: process_vm_readv / writev), or from or to a shared buffer.
     */
    void copied(boolean processMemory, long bytes) {
        (processMemory ? copiedProcessMemory : copiedSharedBuffer).increment(bytes);
    }

    /** A request that named a client's private memory was refused (NO_PROCESS_ACCESS). */
    void processMemoryRefused() {
        processMemoryRefused.increment();
    }

    /** Publishes a gauge of {@code value} under {@code name}. */
    void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /** One request of {@code opcode} answered with {@code status} after {@code nanos}. */
    void request(int opcode, int status, long nanos) {
        latency[opcode > 0 && opcode <= SidecarProtocol.MAX_OPCODE ? opcode : latency.length - 1]
                .record(nanos, TimeUnit.NANOSECONDS);
        if (status != SidecarProtocol.OK) {
            errors[status > 0 && status < errors.length ? status : SidecarProtocol.INTERNAL].increment();
        }
    }

    /** Part {@code phase} of one request of {@code opcode} took {@code nanos}. */
    void phase(int opcode, Phase phase, long nanos) {
        phases[opcode > 0 && opcode <= SidecarProtocol.MAX_OPCODE ? opcode : phases.length - 1][phase.ordinal()]
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Publishes the calls of a master client per method as {@code ferry.sidecar.master.calls}
     * (count and summed wall time, retries included).
     */
    void masterCalls(dev.ferry.store.rpc.CallTimes times, java.util.Map<Integer, String> methods) {
        methods.forEach((method, name) -> io.micrometer.core.instrument.FunctionTimer.builder(
                        "ferry.sidecar.master.calls", times, t -> t.calls(method), t -> t.nanos(method),
                        TimeUnit.NANOSECONDS)
                .description("calls of the master and their time as the sidecar saw them").tag("method", name)
                .register(registry));
    }

    void hits(int found, int missed) {
        hits.increment(found);
        misses.increment(missed);
    }

    void bytesIn(long bytes) {
        bytesIn.increment(bytes);
    }

    void bytesOut(long bytes) {
        bytesOut.increment(bytes);
    }

    void malformedFrame() {
        malformed.increment();
    }

    /** A named request found its block key holding another string key's value. */
    void keyMismatch() {
        keyMismatches.increment();
    }

    /** The registry the meters live in. */
    public MeterRegistry registry() {
        return registry;
    }
}
