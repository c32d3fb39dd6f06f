package dev.ferry.store.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Sizes and rates as every Ferry command reads them. */
class ByteSizesTest {
    @Test
    void unitsArePowersOf1024() {
        assertThat(ByteSizes.parse("4096")).isEqualTo(4096);
        assertThat(ByteSizes.parse("64KiB")).isEqualTo(64L << 10);
        assertThat(ByteSizes.parse("4MB")).isEqualTo(4L << 20);
        assertThat(ByteSizes.parse("4GiB")).isEqualTo(4L << 30);
        assertThat(ByteSizes.parse(" 1TiB ")).isEqualTo(1L << 40);
        assertThat(ByteSizes.parse("2g")).isEqualTo(2L << 30);
    }

    @Test
    void zeroIsARateButNotASize() {
        assertThat(ByteSizes.parseRate("0")).isZero();
        assertThat(ByteSizes.parseRate("64MiB")).isEqualTo(64L << 20);
        assertThatThrownBy(() -> ByteSizes.parse("0")).hasMessageContaining("got '0'");
    }

    @Test
    void badSizesAreNamed() {
        for (String bad : new String[] {"", "-1", "4XB", "GiB", "99999999999TiB"}) {
            assertThatThrownBy(() -> ByteSizes.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("expected a size such as 65536, 64KiB or 4MiB, got '" + bad + "'");
        }
    }
}
