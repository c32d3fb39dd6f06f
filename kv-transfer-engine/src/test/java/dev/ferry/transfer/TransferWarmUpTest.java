package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TransferWarmUpTest {
    @Test
    void movesRequestsOverLoopbackForTheTimeGiven() {
        assertThat(TransferWarmUp.run(200)).as("requests moved").isPositive();
        assertThat(TransferWarmUp.run(0)).isZero();
        assertThatThrownBy(() -> TransferWarmUp.run(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 0 ms");
    }
}
