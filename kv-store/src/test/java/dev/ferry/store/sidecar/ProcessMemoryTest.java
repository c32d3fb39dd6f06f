package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link ProcessMemory} against this process itself and processes it may not reach. */
class ProcessMemoryTest {
    private static final long SELF = ProcessHandle.current().pid();
    /** Above the largest pid_max Linux allows (2^22): never a process. */
    private static final long NO_SUCH_PID = (1L << 22) + 1;

    @Test
    void copiesBothWaysWithinThisProcess() {
        try (Arena arena = Arena.ofConfined(); ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            MemorySegment source = arena.allocate(3 << 20);
            for (long i = 0; i < source.byteSize(); i += 8) {
                source.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L);
            }
            MemorySegment copy = arena.allocate(source.byteSize());
            assertThat(calls.read(SELF, source.address(), copy)).isTrue();
            assertThat(copy.mismatch(source)).isEqualTo(-1);
            MemorySegment back = arena.allocate(source.byteSize());
            assertThat(calls.write(SELF, back.address(), copy)).isTrue();
            assertThat(back.mismatch(source)).isEqualTo(-1);
            assertThat(ProcessMemory.read(SELF, source.address() + 5, copy.asSlice(0, 10))).isTrue();
            assertThat(copy.asSlice(0, 10).mismatch(source.asSlice(5, 10))).isEqualTo(-1);
        }
    }

    @Test
    void anUnmappedRangeIsFalseNeverAFault() {
        try (Arena arena = Arena.ofConfined(); ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            MemorySegment into = arena.allocate(64 * 1024);
            assertThat(calls.read(SELF, 4096, into)).isFalse();
            assertThat(calls.write(SELF, 4096, into)).isFalse();
        }
    }

    /** Two pages mapped read-write with the second unmapped again: the first ends where nothing is mapped. */
    private static MemorySegment pageBeforeAHole(Arena arena) throws Throwable {
        var linker = java.lang.foreign.Linker.nativeLinker();
        var mmap = linker.downcallHandle(linker.defaultLookup().find("mmap").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        var munmap = linker.downcallHandle(linker.defaultLookup().find("munmap").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        long page = 4096;
        MemorySegment two = (MemorySegment) mmap.invoke(MemorySegment.NULL, 2 * page, 3 /* PROT_READ|WRITE */,
                0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0L);
        assertThat(two.address()).isNotEqualTo(-1L);
        assertThat((int) munmap.invoke(MemorySegment.ofAddress(two.address() + page), page)).isZero();
        return two.reinterpret(page, arena, s -> {
            try {
                munmap.invoke(s, page);
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aBatchCopiesEveryReachableRangeAndFailsOnlyThoseThatAreNot() throws Throwable {
        try (Arena arena = Arena.ofConfined(); ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            MemorySegment edge = pageBeforeAHole(arena);
            MemorySegment a = arena.allocate(300_000);
            MemorySegment b = arena.allocate(5_000);
            for (long i = 0; i < a.byteSize(); i++) {
                a.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31));
            }
            for (long i = 0; i < b.byteSize(); i++) {
                b.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
            }
            edge.fill((byte) 9);
            // a; a range crossing into the hole; b; an unmapped range; the mapped page's last 100 bytes
            long[] addresses = {a.address(), edge.address() + 4000, b.address(), 4096, edge.address() + 3996};
            MemorySegment[] into = {arena.allocate(a.byteSize()), arena.allocate(200), arena.allocate(b.byteSize()),
                    arena.allocate(64), arena.allocate(100)};
            assertThat(calls.readAll(SELF, addresses, into)).containsExactly(true, false, true, false, true);
            assertThat(into[0].mismatch(a)).isEqualTo(-1);
            assertThat(into[2].mismatch(b)).isEqualTo(-1);
            assertThat(into[4].mismatch(edge.asSlice(3996, 100))).isEqualTo(-1);

            MemorySegment[] back = {arena.allocate(a.byteSize()), arena.allocate(b.byteSize())};
            long[] to = {back[0].address(), edge.address() + 4090, back[1].address()};
            assertThat(calls.writeAll(SELF, to, new MemorySegment[] {a, arena.allocate(10), b}))
                    .containsExactly(true, false, true);
            assertThat(back[0].mismatch(a)).isEqualTo(-1);
            assertThat(back[1].mismatch(b)).isEqualTo(-1);
        }
    }

    @Test
    void aBatchOfMoreRangesThanOneCallTakesIsCopiedWhole() {
        int n = ProcessMemory.IOV_MAX * 2 + 3;
        try (Arena arena = Arena.ofConfined(); ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            MemorySegment source = arena.allocate(n * 16L);
            for (long i = 0; i < source.byteSize(); i++) {
                source.set(ValueLayout.JAVA_BYTE, i, (byte) (i ^ (i >> 8)));
            }
            MemorySegment copy = arena.allocate(source.byteSize());
            long[] addresses = new long[n];
            MemorySegment[] into = new MemorySegment[n];
            for (int i = 0; i < n; i++) {
                addresses[i] = source.address() + 16L * i;
                into[i] = copy.asSlice(16L * i, 16);
            }
            boolean[] ok = calls.readAll(SELF, addresses, into);
            for (int i = 0; i < n; i++) {
                assertThat(ok[i]).as("range %d", i).isTrue();
            }
            assertThat(copy.mismatch(source)).isEqualTo(-1);
        }
    }

    @Test
    void aProcessThatIsNotThereIsRefusedWithTheReason() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment into = arena.allocate(16);
            assertThatThrownBy(() -> ProcessMemory.read(NO_SUCH_PID, into.address(), into))
                    .isInstanceOfSatisfying(SidecarException.class, e -> {
                        assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS);
                        assertThat(e.reason()).contains("ESRCH");
                    });
            assertThatThrownBy(() -> ProcessMemory.probe(-1, into.address()))
                    .isInstanceOfSatisfying(SidecarException.class,
                            e -> assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS));
        }
    }

    @Test
    void anotherUsersProcessIsRefused() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            assertThatThrownBy(() -> ProcessMemory.probe(1, 4096)) // init: root's
                    .isInstanceOfSatisfying(SidecarException.class, e -> {
                        assertThat(e.status()).isEqualTo(SidecarProtocol.NO_PROCESS_ACCESS);
                        assertThat(e.reason()).contains("EPERM");
                    });
            return;
        }
        // As root every process may be read: probe root's init from a JVM running as nobody
        // (allowed to read the class path, not to trace another user's process).
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux) to run as another user");
        List<String> command = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
                ProcessHandle.current().info().command().orElseThrow()));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-") || a.startsWith("--enable-native-access")).toList());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ProcessMemoryProbeMain.class.getName(),
                "1", "4096"));
        Process probe = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(probe.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(output).as("a process of another user (nobody probing root's init)")
                .contains("refused " + SidecarProtocol.NO_PROCESS_ACCESS + " ").contains("EPERM");
    }
}
