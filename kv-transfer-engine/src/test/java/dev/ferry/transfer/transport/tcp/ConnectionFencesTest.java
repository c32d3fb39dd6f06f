package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class ConnectionFencesTest {
    @Test
    void fencingALiveTokenClosesItsConnectionBeforeItCompletes() {
        ConnectionFences fences = new ConnectionFences();
        EmbeddedChannel connection = new EmbeddedChannel();
        assertThat(fences.hello(42, connection)).isTrue();

        CompletableFuture<Void> fenced = fences.fence(42);

        assertThat(fenced).isCompleted();
        assertThat(connection.isOpen()).isFalse();
    }

    @Test
    void aTokenFencedBeforeItsHelloIsRefusedOnArrival() {
        ConnectionFences fences = new ConnectionFences();
        assertThat(fences.fence(7)).isCompleted();

        assertThat(fences.hello(7, new EmbeddedChannel())).isFalse();
        assertThat(fences.hello(8, new EmbeddedChannel())).isTrue();
    }

    @Test
    void aConnectionThatClosedLeavesNothingToCloseAndItsTokenIsRemembered() {
        ConnectionFences fences = new ConnectionFences();
        EmbeddedChannel gone = new EmbeddedChannel();
        fences.hello(9, gone);
        gone.close();
        fences.gone(9, gone);

        assertThat(fences.fence(9)).isCompleted();
        assertThat(fences.hello(9, new EmbeddedChannel())).isFalse();
    }

    @Test
    void onlyTheMostRecentFencedTokensAreRemembered() {
        ConnectionFences fences = new ConnectionFences();
        for (long token = 0; token <= ConnectionFences.MAX_REMEMBERED; token++) {
            fences.fence(token);
        }
        assertThat(fences.hello(0, new EmbeddedChannel())).isTrue(); // the eldest, forgotten
        assertThat(fences.hello(ConnectionFences.MAX_REMEMBERED, new EmbeddedChannel())).isFalse();
    }
}
