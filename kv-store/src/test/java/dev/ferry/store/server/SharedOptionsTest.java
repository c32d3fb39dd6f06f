package dev.ferry.store.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The option groups that the store node and the sidecar share parse the same in both, and the
 * old names of renamed flags still work, each with one line of warning.
 */
class SharedOptionsTest {
    private static final long GIB = 1L << 30;

    private final StringWriter err = new StringWriter();

    /** The store's processes that take a DRAM capacity, SSD and slab options and a master address. */
    private static List<Callable<Integer>> processes() {
        return List.of(new StoreNodeMain(), new SidecarMain());
    }

    private CommandLine parse(Object command, String... args) {
        CommandLine cli = new CommandLine(command);
        cli.setErr(new PrintWriter(err, true));
        cli.parseArgs(args);
        return cli;
    }

    @Test
    void sameFlagsMeanTheSameInEveryProcess() {
        for (Callable<Integer> process : processes()) {
            parse(process, "--node-id", "n", "--capacity", "4GiB", "--ssd-dir", "/tmp/ssd", "--ssd-capacity", "64GiB",
                    "--scrub-rate", "32MiB", "--master", "127.0.0.1:7400", "--master-reconnect-ms", "750",
                    "--data-dir", "/dev/shm/d", "--lazy-slab", "--data", "10.0.0.5:7500");
            Parts parts = Parts.of(process);
            assertThat(parts.capacity.bytesOr(0)).as(process.getClass().getSimpleName()).isEqualTo(4 * GIB);
            assertThat(parts.ssd.bytes()).isEqualTo(64 * GIB);
            assertThat(parts.ssd.dir()).isEqualTo(Path.of("/tmp/ssd"));
            assertThat(parts.slab.scrubRate()).isEqualTo(32L << 20);
            assertThat(parts.slab.dataDir()).isEqualTo(Path.of("/dev/shm/d"));
            assertThat(parts.slab.lazySlab()).isTrue();
            assertThat(parts.master.address()).isEqualTo("127.0.0.1:7400");
            assertThat(parts.master.reconnectMillis()).isEqualTo(750);
            assertThat(parts.data.address()).isEqualTo(new dev.ferry.store.cli.BindAddress("10.0.0.5", 7500));
        }
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void hostAndPortMeanTheSameInTheMasterAndInPrefillAndDecode() {
        MasterMain master = new MasterMain();
        EngineNode engineNode = new EngineNode();
        parse(master, "--host", "10.0.0.7", "--port", "7400");
        parse(engineNode, "--host", "10.0.0.7", "--port", "7400");
        for (dev.ferry.store.cli.ListenOptions listen : List.of(master.listen, engineNode.options.listen)) {
            assertThat(listen.host()).isEqualTo("10.0.0.7");
            assertThat(listen.port()).isEqualTo(7400);
        }
    }

    /** A command that takes the options of prefill and decode nodes, as theirs do. */
    @CommandLine.Command(name = "engine-node")
    static final class EngineNode {
        @CommandLine.Mixin
        dev.ferry.store.engine.EngineOptions options;
    }

    @Test
    void aNumberAloneIsBytesAndZeroTurnsTheScrubOff() {
        for (Callable<Integer> process : processes()) {
            parse(process, "--node-id", "n", "--capacity", "8388608", "--scrub-rate", "0");
            Parts parts = Parts.of(process);
            assertThat(parts.capacity.bytesOr(0)).isEqualTo(8L << 20);
            assertThat(parts.slab.scrubRate()).isZero();
        }
    }

    @Test
    void slabDirAndItsOlderNameSetWhereTheSlabLives() {
        for (Callable<Integer> process : processes()) {
            parse(process, "--node-id", "n", "--master", "127.0.0.1:1", "--capacity", "1GiB",
                    "--slab-dir", "/mnt/ferry-huge");
            assertThat(slabOf(process).shmDir()).isEqualTo(Path.of("/mnt/ferry-huge"));
        }
        for (Callable<Integer> process : List.of(new StoreNodeMain(), new SidecarMain())) {
            parse(process, "--node-id", "n", "--master", "127.0.0.1:1", "--capacity", "1GiB", "--shm-dir", "/tmp/s");
            assertThat(slabOf(process).shmDir()).isEqualTo(Path.of("/tmp/s"));
        }
        assertThat(err.toString()).isEmpty();
    }

    private static dev.ferry.store.cli.SlabOptions slabOf(Callable<Integer> process) {
        return process instanceof StoreNodeMain node ? node.slab : ((SidecarMain) process).slab;
    }

    @Test
    void defaultsWithoutTheFlags() {
        SidecarMain sidecar = new SidecarMain();
        parse(sidecar);
        assertThat(sidecar.capacity.bytesOr(SidecarMain.DEFAULT_CAPACITY)).isEqualTo(GIB);
        assertThat(sidecar.slab.scrubRate()).isEqualTo(64L << 20);
        String slabDir = System.getenv("FERRY_SLAB_DIR");
        assertThat(sidecar.slab.shmDir()).as("$FERRY_SLAB_DIR, else /dev/shm")
                .isEqualTo(Path.of(slabDir == null || slabDir.isEmpty() ? "/dev/shm" : slabDir));
        assertThat(sidecar.ssd.bytes()).isZero();
        assertThat(sidecar.master.address()).isNull();
        assertThat(sidecar.master.reconnectMillis()).isEqualTo(dev.ferry.store.master.MasterClient.FOLLOW_LEASE_TTL);
        assertThat(sidecar.data.address()).isEqualTo(new dev.ferry.store.cli.BindAddress("127.0.0.1", 0));
    }

    @Test
    void deprecatedAliasesStillWorkAndWarnOnce() {
        StoreNodeMain node = new StoreNodeMain();
        parse(node, "--node-id", "n", "--master", "127.0.0.1:1", "--capacity-bytes", "16777216",
                "--ssd-capacity-bytes", "1GiB", "--scrub-bytes-per-second", "1048576", "--host", "10.0.0.9",
                "--data-port", "7501");
        assertThat(node.capacity.bytesOr(0)).isEqualTo(16L << 20);
        assertThat(node.ssd.bytes()).isEqualTo(GIB);
        assertThat(node.slab.scrubRate()).isEqualTo(1L << 20);
        assertThat(node.data.address()).isEqualTo(new dev.ferry.store.cli.BindAddress("10.0.0.9", 7501));
        assertThat(err.toString().lines().toList()).containsExactly(
                "store-node: --capacity-bytes is deprecated: use --capacity SIZE",
                "store-node: --ssd-capacity-bytes is deprecated: use --ssd-capacity SIZE",
                "store-node: --scrub-bytes-per-second is deprecated: use --scrub-rate RATE",
                "store-node: --host is deprecated: use --data HOST:PORT",
                "store-node: --data-port is deprecated: use --data HOST:PORT");
    }

    @Test
    void aBadSizeIsNamed() {
        for (Callable<Integer> process : processes()) {
            assertThatThrownBy(() -> parse(process, "--capacity", "4XB"))
                    .isInstanceOf(CommandLine.ParameterException.class)
                    .hasMessageContaining("--capacity").hasMessageContaining("'4XB'");
            assertThatThrownBy(() -> parse(process, "--data", "7500"))
                    .isInstanceOf(CommandLine.ParameterException.class)
                    .hasMessageContaining("expected host:port (port 0 picks one), got '7500'");
        }
    }

    @Test
    void storeNodeWithoutACapacityIsAUsageError() {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new StoreNodeMain());
        cli.setErr(new PrintWriter(err, true));
        cli.setOut(new PrintWriter(out, true));
        assertThat(cli.execute("--node-id", "n", "--master", "127.0.0.1:1")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required option: '--capacity=SIZE'");
    }

    @Test
    void badMasterAndEtcdOptionsAreUsageErrorsNamingTheProblem() {
        CommandLine node = new CommandLine(new StoreNodeMain());
        node.setErr(new PrintWriter(err, true));
        assertThat(node.execute("--node-id", "n", "--capacity", "1MiB", "--master", "etcd://127.0.0.1:1;127.0.0.1:2"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("names no cluster", "--cluster-id");
        CommandLine master = new CommandLine(new MasterMain());
        master.setErr(new PrintWriter(err, true));
        assertThat(master.execute("--etcd", "127.0.0.1:1")).isEqualTo(2);
        assertThat(err.toString()).contains("--etcd needs --cluster-id");
        assertThat(master.execute("--cluster-id", "c")).isEqualTo(2);
        assertThat(err.toString()).contains("--cluster-id needs --etcd");
        assertThat(master.execute("--etcd", "127.0.0.1:1", "--cluster-id", "c", "--lease-ttl", "500ms")).isEqualTo(2);
        assertThat(err.toString()).contains("--lease-ttl '500ms': expected whole seconds >= 1");
        assertThat(master.execute("--etcd", "127.0.0.1:1", "--cluster-id", "c", "--host", "0.0.0.0")).isEqualTo(2);
        assertThat(err.toString()).contains("give --advertise HOST");
    }

    @Test
    void helpShowsTheNewNamesOnly() {
        for (Callable<Integer> process : processes()) {
            StringWriter out = new StringWriter();
            CommandLine cli = new CommandLine(process);
            cli.setOut(new PrintWriter(out, true));
            cli.setErr(new PrintWriter(err, true));
            assertThat(cli.execute("--help")).isZero();
            assertThat(out.toString()).contains("--capacity=SIZE", "--ssd-capacity=SIZE", "--scrub-rate=RATE",
                    "--master=ADDRESS", "--cluster-id=ID", "--data=HOST:PORT").doesNotContain("-bytes", "--scrub-bytes-per-second",
                    "--data-port", "--host");
        }
        assertThat(err.toString()).isEmpty();
    }

    /** The mixins of a process, read through its fields. */
    private record Parts(dev.ferry.store.cli.CapacityOption capacity, dev.ferry.store.cli.SsdOptions ssd,
                         dev.ferry.store.cli.SlabOptions slab, dev.ferry.store.cli.MasterOptions master,
                         dev.ferry.store.cli.DataOption data) {
        static Parts of(Callable<Integer> process) {
            return switch (process) {
                case StoreNodeMain n -> new Parts(n.capacity, n.ssd, n.slab, n.master, n.data);
                case SidecarMain s -> new Parts(s.capacity, s.ssd, s.slab, s.master, s.data);
                default -> throw new IllegalArgumentException(process.toString());
            };
        }
    }
}
