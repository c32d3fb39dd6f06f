package dev.ferry.store.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizeOrZeroConverterTest {
    @Test
    void zeroMeansNoneAndAnythingElseIsASize() {
        SizeOrZeroConverter c = new SizeOrZeroConverter();
        assertThat(c.convert("0")).isZero();
        assertThat(c.convert("512MiB")).isEqualTo(512L << 20);
        assertThatThrownBy(() -> c.convert("-1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.convert("lots")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected a size");
    }
}
