package dev.ferry.store.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.transport.tcp.IoBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code --io} picks the backend of the process's engines and travels to child processes; {@code --warm-up-ms} runs a pass. */
class IoOptionsTest {
    @Command(name = "node")
    static final class Node {
        @Mixin
        IoOptions io;

        @Mixin
        WarmUpOption warmUp;
    }

    private String before;

    @BeforeEach
    void remember() {
        before = System.getProperty(IoBackend.PROPERTY);
    }

    @AfterEach
    void restore() {
        if (before == null) {
            System.clearProperty(IoBackend.PROPERTY);
        } else {
            System.setProperty(IoBackend.PROPERTY, before);
        }
    }

    private static Node parse(String... args) {
        Node node = new Node();
        new CommandLine(node).parseArgs(args);
        return node;
    }

    @Test
    void theFlagNamesTheBackendOfEveryEngineOfTheProcess() {
        Node node = parse("--io", "NIO");
        assertThat(node.io.install().used()).isEqualTo(IoBackend.NIO);
        assertThat(node.io.arguments()).containsExactly("--io", "nio");
        try (TransferEngine engine = new TransferEngine(new TransferEngine.Context())) {
            assertThat(engine.tcpIo().used()).isEqualTo(IoBackend.NIO);
        }
    }

    @Test
    void withoutTheFlagTheDefaultRunsAndNothingTravels() {
        System.clearProperty(IoBackend.PROPERTY);
        Node node = parse();
        assertThat(node.io.install().requested()).isEqualTo(IoBackend.DEFAULT);
        assertThat(node.io.arguments()).isEmpty();
    }

    @Test
    void anUnknownBackendIsRefusedNamingTheChoices() {
        Node node = parse("--io", "kqueue");
        assertThatThrownBy(node.io::install).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("uring, epoll, nio");
    }

    @Test
    void theWarmUpPassMovesRequestsAndSaysSoForTheReadyLine() {
        String line = parse("--warm-up-ms", "200").warmUp.run();
        assertThat(line).matches("warm_up_ms=\\d+ warm_up_requests=\\d+ warm_up_settled=(true|false)");
        assertThat(Long.parseLong(line.replaceAll(".*warm_up_requests=(\\d+).*", "$1"))).isPositive();
        assertThat(parse("--warm-up-ms", "0").warmUp.run()).endsWith("warm_up_requests=0 warm_up_settled=false");
        // The test suite sets the default's property (pom.xml); without it, DEFAULT_MILLIS.
        assertThat(parse().warmUp.millis).isEqualTo(Long.getLong(WarmUpOption.DEFAULT_PROPERTY,
                WarmUpOption.DEFAULT_MILLIS));
        String before = System.getProperty(WarmUpOption.DEFAULT_PROPERTY);
        try {
            System.setProperty(WarmUpOption.DEFAULT_PROPERTY, "1234");
            assertThat(parse().warmUp.millis).isEqualTo(1234);
            System.clearProperty(WarmUpOption.DEFAULT_PROPERTY);
            assertThat(parse().warmUp.millis).isEqualTo(WarmUpOption.DEFAULT_MILLIS);
        } finally {
            if (before != null) {
                System.setProperty(WarmUpOption.DEFAULT_PROPERTY, before);
            }
        }
    }

    @Test
    void aNegativeWarmUpIsRefused() {
        assertThatThrownBy(() -> parse("--warm-up-ms", "-1").warmUp.run())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 0");
    }
}
