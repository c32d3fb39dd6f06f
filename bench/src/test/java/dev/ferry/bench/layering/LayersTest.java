package dev.ferry.bench.layering;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rules of {@link LayeringTest} fail on the violations they are for (fixtures under {@code fixture}). */
class LayersTest {
    private static final String FIXTURE = "dev.ferry.bench.layering.fixture";
    private static final JavaClasses CLASSES = new ClassFileImporter().importPackages(FIXTURE);

    @Test
    void failsWhenALowerPackageUsesAnUpperOne() {
        String low = FIXTURE + ".upward.low..";
        String high = FIXTURE + ".upward.high..";
        assertThatThrownBy(() -> Layers.layered(List.of(List.of(low), List.of(high)), false).check(CLASSES))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Low").hasMessageContaining("High");
        assertThatCode(() -> Layers.layered(List.of(List.of(high), List.of(low)), false).check(CLASSES))
                .doesNotThrowAnyException();
    }

    @Test
    void failsWhenPeersUseEachOtherUnlessPeersMayDepend() {
        List<List<String>> sideBySide = List.of(List.of(FIXTURE + ".peers.left..", FIXTURE + ".peers.right.."));
        assertThatThrownBy(() -> Layers.layered(sideBySide, false).check(CLASSES))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Left").hasMessageContaining("Right");
        assertThatCode(() -> Layers.layered(sideBySide, true).check(CLASSES)).doesNotThrowAnyException();
    }

    @Test
    void failsOnAPackageThatHoldsNoClass() {
        List<List<String>> renamed = List.of(List.of(FIXTURE + ".upward.high.."), List.of(FIXTURE + ".nowhere.."));
        assertThatThrownBy(() -> Layers.layered(renamed, false).check(CLASSES)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("nowhere");
    }

    @Test
    void failsOnAPackageCycleAndOnlyOnIt() {
        assertThatThrownBy(() -> Layers.freeOfCycles(FIXTURE + ".cycle").check(CLASSES))
                .isInstanceOf(AssertionError.class).hasMessageContaining("a").hasMessageContaining("b");
        assertThatCode(() -> Layers.freeOfCycles(FIXTURE + ".upward").check(CLASSES)).doesNotThrowAnyException();
    }
}
