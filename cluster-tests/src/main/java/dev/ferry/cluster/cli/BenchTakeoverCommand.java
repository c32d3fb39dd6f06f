package dev.ferry.cluster.cli;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.coord.LocalEtcd;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.node.StoreNode;
import dev.ferry.store.server.MasterMain;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench takeover}: masters elected in a local etcd, a store node and a writer;
 * SIGKILLs the leader several times and measures each takeover, from the kill to the first
 * commit on the new leader, checking that no block committed before the kill is lost
 * ({@code takeover.csv}: one row per kill).
 * Needs Debian's {@code etcd-server}.
 */
@Command(name = "takeover", mixinStandardHelpOptions = true,
        description = "Time from a SIGKILL of the leading master to the first commit on the next (needs etcd).")
final class BenchTakeoverCommand implements Callable<Integer> {
    private static final long BLOCK = 64 * 1024;
    private static final long LONGEST_TAKEOVER_MILLIS = 60_000;

    @Option(names = "--masters", defaultValue = "3", description = "Master processes (default ${DEFAULT-VALUE}).")
    int masters;

    @Option(names = "--lease-ttl", defaultValue = "5s", description = "The leader's lease TTL (default ${DEFAULT-VALUE}).")
    String leaseTtl;

    @Option(names = "--runs", defaultValue = "5", description = "Leaders to kill (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--blocks", defaultValue = "64", description = "Blocks committed before each kill "
            + "(default ${DEFAULT-VALUE}).")
    int blocks;

    @Option(names = "--out", description = "Work directory: takeover.csv, the masters' logs, etcd's log "
            + "(default ferry-out/takeover-<time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (masters < 2 || runs < 1 || blocks < 1) {
            throw new IllegalArgumentException("--masters must be at least 2, --runs and --blocks at least 1");
        }
        Path dir = out != null ? out : Path.of("ferry-out", "takeover-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);
        List<ChildProcess> running = new ArrayList<>();
        try (LocalEtcd etcd = LocalEtcd.start(dir)) {
            MasterAddress address = MasterAddress.parse("etcd://" + etcd.address() + "/bench");
            for (int i = 0; i < masters; i++) {
                running.add(startMaster(dir, etcd, i));
            }
            long capacity = (long) (runs + 1) * (blocks + 1) * BLOCK;
            try (MasterClient masterClient = new MasterClient(address, 5_000, LONGEST_TAKEOVER_MILLIS);
                 TransferEngine engine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
                 Slab staging = Slab.allocate(4 * BLOCK);
                 StoreClient store = new StoreClient(masterClient, engine, 10_000);
                 StoreNode node = StoreNode.start(new StoreNode.Config("bench-node", address, capacity,
                         new TransferEngine.Context(), dir, null, null, 0, "lru", 100, false, 0,
                         LONGEST_TAKEOVER_MILLIS))) {
                long[] millis = new long[runs];
                StringBuilder csv = new StringBuilder("run,epoch,blocks_before,takeover_ms,lost_blocks\n");
                long next = 1;
                System.out.printf("%-4s %-8s %-8s %-12s %-10s%n", "run", "epoch", "blocks", "takeover_ms", "lost");
                for (int run = 0; run < runs; run++) {
                    long[] keys = LongStream.range(next, next + blocks).toArray();
                    next += blocks + 1;
                    store.put(BlockKey.ofAll(keys), BLOCK, staging.memory(), BlockContent::fill);
                    long committed = masterClient.stats().blocks();
                    ChildProcess leader = leaderOf(running, masterClient.target());
                    long killed = System.nanoTime();
                    leader.kill();
                    long probe = next - 1;
                    firstCommit(store, staging, probe);
                    millis[run] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                    long lost = committed + 1 - masterClient.stats().blocks();
                    System.out.printf("%-4d %-8d %-8d %-12d %-10d%n", run + 1, masterClient.epoch(), committed,
                            millis[run], lost);
                    csv.append(run + 1).append(',').append(masterClient.epoch()).append(',').append(committed)
                            .append(',').append(millis[run]).append(',').append(lost).append('\n');
                    running.remove(leader);
                    running.add(startMaster(dir, etcd, masters + run));
                }
                long[] sorted = millis.clone();
                Arrays.sort(sorted);
                System.out.printf("takeover, SIGKILL to first commit on the new leader (lease TTL %s, %d masters): "
                                + "min %d ms, median %d ms, max %d ms over %d runs%n", leaseTtl, masters, sorted[0],
                        sorted[sorted.length / 2], sorted[sorted.length - 1], runs);
                Files.writeString(dir.resolve("takeover.csv"), csv);
                System.out.println("  wrote " + dir.resolve("takeover.csv"));
            }
        } finally {
            running.forEach(ChildProcess::stop);
            running.forEach(ChildProcess::awaitExit);
        }
        return 0;
    }

    private ChildProcess startMaster(Path dir, LocalEtcd etcd, int index) {
        ChildProcess m = ChildProcess.start("master-" + index, List.of(), MasterMain.class.getName(), List.of(
                "--etcd", etcd.address(), "--cluster-id", "bench", "--lease-ttl", leaseTtl),
                dir.resolve("master-" + index + ".log"));
        m.awaitReady();
        return m;
    }

    private static ChildProcess leaderOf(List<ChildProcess> running, String target) {
        return running.stream().filter(m -> target.equals(m.field("address"))).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running master is the leader at " + target));
    }

    /** Puts one block until a commit succeeds: the new leader leads and the node registered with it. */
    private static void firstCommit(StoreClient store, Slab staging, long key) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LONGEST_TAKEOVER_MILLIS);
        while (true) {
            try {
                if (store.put(BlockKey.ofAll(key), BLOCK, staging.memory(), BlockContent::fill).written() == 1) {
                    return;
                }
            } catch (RuntimeException notYet) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new IllegalStateException("no commit within " + LONGEST_TAKEOVER_MILLIS + " ms of the kill",
                            notYet);
                }
            }
            Thread.sleep(10);
        }
    }
}
