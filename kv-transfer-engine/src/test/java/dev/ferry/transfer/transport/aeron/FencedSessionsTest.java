package dev.ferry.transfer.transport.aeron;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FencedSessionsTest {
    @Test
    void aFencedSessionIsHeldOnlyWithTheReplyEndpointItWasFencedWith() {
        FencedSessions fenced = new FencedSessions();
        assertThat(fenced.holds(7, "127.0.0.1:4000")).isFalse();
        assertThat(fenced.fence(7, "127.0.0.1:4000")).isTrue();
        assertThat(fenced.fence(7, "127.0.0.1:4000")).as("fenced already").isFalse();
        assertThat(fenced.holds(7, "127.0.0.1:4000")).isTrue();
        // Another initiator whose driver picked the same session id is not fenced with it.
        assertThat(fenced.holds(7, "127.0.0.2:4000")).isFalse();
        assertThat(fenced.holds(8, "127.0.0.1:4000")).isFalse();
    }

    @Test
    void theOldestFenceIsForgottenPastTheLimitAndTheOthersAreKept() {
        FencedSessions fenced = new FencedSessions();
        for (int i = 0; i <= FencedSessions.MAX_REMEMBERED; i++) {
            fenced.fence(i, "ipc:5");
        }
        assertThat(fenced.holds(0, "ipc:5")).isFalse();
        assertThat(fenced.holds(1, "ipc:5")).isTrue();
        assertThat(fenced.holds(FencedSessions.MAX_REMEMBERED, "ipc:5")).isTrue();
        assertThat(fenced.fence(0, "ipc:5")).as("forgotten, so fenced anew").isTrue();
    }
}
