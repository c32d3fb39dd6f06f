package dev.ferry.bench.layering;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the layering rules of {@link LayeringTest} from plain lists, so that the rules
 * themselves can be tried on small fixtures ({@link LayersTest}).
 *
 * <p>A layering is a list of levels, bottom first; each level is a list of package
 * identifiers in ArchUnit's syntax ({@code dev.ferry.store..} for a package and its
 * sub-packages, {@code dev.ferry.transfer} for that package alone). A class of a level may
 * use the levels below it; nothing below may use it. Dependencies to classes outside the
 * listed packages (the JDK, libraries, other modules) are not considered.
 */
final class Layers {
    private Layers() {
    }

    /**
     * @param levels          bottom first
     * @param peersMayDepend  whether packages of one level may use each other (their cycles
     *                        are still caught by {@link #freeOfCycles}); when false they must
     *                        not, as prefill and decode must not
     * @return a rule that fails on every dependency against the direction, and on a listed
     *         package that holds no class (a renamed package must be renamed here too)
     */
    static LayeredArchitecture layered(List<List<String>> levels, boolean peersMayDepend) {
        LayeredArchitecture rule = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (List<String> level : levels) {
            for (String pkg : level) {
                rule = rule.layer(pkg).definedBy(pkg);
            }
        }
        for (int i = 0; i < levels.size(); i++) {
            for (String pkg : levels.get(i)) {
                List<String> users = new ArrayList<>();
                if (peersMayDepend) {
                    levels.get(i).stream().filter(p -> !p.equals(pkg)).forEach(users::add);
                }
                levels.subList(i + 1, levels.size()).forEach(users::addAll);
                rule = users.isEmpty() ? rule.whereLayer(pkg).mayNotBeAccessedByAnyLayer()
                        : rule.whereLayer(pkg).mayOnlyBeAccessedByLayers(users.toArray(String[]::new));
            }
        }
        return rule;
    }

    /** Fails on every cycle among the packages under {@code root} (each package one node). */
    static ArchRule freeOfCycles(String root) {
        return slices().matching(root + ".(**)").namingSlices("$1").should().beFreeOfCycles();
    }
}
