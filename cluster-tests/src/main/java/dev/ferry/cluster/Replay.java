package dev.ferry.cluster;

import dev.ferry.cluster.report.RequestResult;
import dev.ferry.prefill.PrefillProtocol;
import dev.ferry.prefill.PrefillProtocol.PrefillRequest;
import dev.ferry.prefill.PrefillProtocol.PrefillResult;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Replays a trace against a prefill node: each request is submitted at its timestamp times
 * the time scale (0 = as fast as possible), with at most {@code concurrency} in flight. A
 * failed request is recorded with its error; the replay goes on.
 *
 * <p>Not thread-safe: one replay per instance.
 */
public final class Replay {
    private final HostPort prefill;
    private final double timeScale;
    private final int concurrency;
    private final long requestTimeoutMillis;
    private final dev.ferry.transfer.tls.PortSecurity security;

    /**
     * @param prefill              the prefill node's RPC address
     * @param timeScale            factor on trace timestamps; 0 ignores them
     * @param concurrency          requests in flight at most, at least 1
     * @param requestTimeoutMillis longest wait for one request, ms
     */
    public Replay(HostPort prefill, double timeScale, int concurrency, long requestTimeoutMillis) {
        this(prefill, timeScale, concurrency, requestTimeoutMillis, dev.ferry.transfer.tls.PortSecurity.process());
    }

    /**
     * @param security how to reach the prefill node ({@link LocalCluster#clientSecurity()})
     * @see #Replay(HostPort, double, int, long)
     */
    public Replay(HostPort prefill, double timeScale, int concurrency, long requestTimeoutMillis,
                  dev.ferry.transfer.tls.PortSecurity security) {
        this.security = security;
        this.prefill = prefill;
        this.timeScale = timeScale;
        this.concurrency = concurrency;
        this.requestTimeoutMillis = requestTimeoutMillis;
    }

    /**
     * @param onResult called after each request (from worker threads)
     * @return one result per request, in trace order
     */
    public List<RequestResult> run(List<TraceRequest> trace, Consumer<RequestResult> onResult)
            throws InterruptedException {
        return run(trace, onResult, () -> false);
    }

    /**
     * As {@link #run(List, Consumer)}, submitting no more requests once {@code stop} says so
     * (the cluster lost a process it cannot serve without); the requests in flight then are
     * waited for.
     *
     * @return one result per request that was submitted, in trace order
     */
    public List<RequestResult> run(List<TraceRequest> trace, Consumer<RequestResult> onResult,
                                   java.util.function.BooleanSupplier stop) throws InterruptedException {
        RequestResult[] results = new RequestResult[trace.size()];
        Semaphore inFlight = new Semaphore(concurrency);
        ExecutorService workers = Executors.newFixedThreadPool(concurrency, r -> new Thread(r, "ferry-replay"));
        long start = System.nanoTime();
        long firstMs = trace.getFirst().timestampMs();
        try (RpcClient client = new RpcClient(prefill.host(), prefill.port(), requestTimeoutMillis,
                new dev.ferry.store.rpc.EpochFence(), security)) {
            for (int i = 0; i < trace.size(); i++) {
                TraceRequest request = trace.get(i);
                if (timeScale > 0) {
                    long due = start + (long) ((request.timestampMs() - firstMs) * timeScale * 1e6);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
                inFlight.acquire();
                if (stop.getAsBoolean()) {
                    inFlight.release();
                    break;
                }
                int slot = i;
                workers.execute(() -> {
                    try {
                        results[slot] = submit(client, request, System.nanoTime() - start);
                        onResult.accept(results[slot]);
                    } finally {
                        inFlight.release();
                    }
                });
            }
            inFlight.acquire(concurrency);
        } finally {
            workers.shutdownNow();
        }
        List<RequestResult> out = new ArrayList<>(results.length);
        for (RequestResult r : results) {
            if (r != null) {
                out.add(r);
            }
        }
        return out;
    }

    private static RequestResult submit(RpcClient client, TraceRequest r, long arrival) {
        PrefillRequest request = new PrefillRequest(r.index(), r.inputTokens(), r.outputTokens(), r.blockKeys());
        int blocks = r.blockKeys().length;
        try {
            PrefillResult p = client.call(PrefillProtocol.SUBMIT, request::write, PrefillResult::read);
            return new RequestResult(r.index(), arrival, blocks, p.hitBlocks(), p.bytesWritten(), p.bytesRead(),
                    p.queueNanos(), p.computeNanos(), p.writeNanos(), p.readNanos(), p.ttftNanos(), p.tbtNanos(),
                    p.verifyFailures(), p.failed() ? p.error() : null, p.gpuReadBlocks(), p.ssdReadBlocks(),
                    p.gpuReadNanos(), p.gpuWriteNanos(), p.promoteNanos(), p.elsewhereGpuBlocks());
        } catch (RpcException e) {
            return new RequestResult(r.index(), arrival, blocks, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    "prefill node: " + e.getMessage());
        }
    }
}
