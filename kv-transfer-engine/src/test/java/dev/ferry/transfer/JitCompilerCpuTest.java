package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class JitCompilerCpuTest {
    @Test
    void readsUserAndSystemTicksAfterTheCommandNameEvenWithSpacesAndParenthesesInIt() {
        String stat = "4242 (C2 CompilerThre) S 4200 4200 0 0 -1 4194368 100 0 0 0 731 29 0 0 20 0 31 0 500 0 0";
        assertThat(JitCompilerCpu.cpuTicks(stat)).isEqualTo(731 + 29);
        String odd = "7 (a) b (c)) R 1 1 0 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 0";
        assertThat(JitCompilerCpu.cpuTicks(odd)).isEqualTo(11);
    }

    @Test
    void countsTheCompilerThreadsOfThisJvm() {
        assertThat(JitCompilerCpu.available()).as("Linux /proc").isTrue();
        // This test's JVM has compiled JUnit and AssertJ: its compiler threads have used CPU.
        assertThat(JitCompilerCpu.millis()).isPositive();
    }
}
