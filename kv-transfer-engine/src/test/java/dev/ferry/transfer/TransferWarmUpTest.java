package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TransferWarmUpTest {
    @Test
    void movesRequestsOverLoopbackWithinTheBudget() {
        TransferWarmUp.Result short_ = TransferWarmUp.run(200);
        assertThat(short_.requests()).as("requests moved").isPositive();
        TransferWarmUp.Result none = TransferWarmUp.run(0);
        assertThat(none.requests()).isZero();
        assertThat(none.settled()).isFalse();
        assertThatThrownBy(() -> TransferWarmUp.run(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 0 ms");
    }

    @Test
    void endsOnceTheJitCompilersGoQuietRatherThanAtTheBudget() {
        // A budget far beyond what compiling takes (seconds): the pass ends on its own, settled.
        TransferWarmUp.Result result = TransferWarmUp.run(600_000);
        assertThat(result.settled()).as("ended because the compilers went quiet: %s", result).isTrue();
        assertThat(result.requests()).isPositive();
    }
}
