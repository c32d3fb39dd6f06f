package dev.ferry.bench.layering;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import java.util.Set;

/**
 * The direction of Ferry's modules and packages (docs/architecture.md, "Layering"), checked
 * on the main classes of every module: bench's test classpath holds them all.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = ImportOption.DoNotIncludeTests.class)
class LayeringTest {
    /** The modules by their root packages, bottom first; prefill and decode side by side. */
    static final List<List<String>> MODULES = List.of(
            List.of("dev.ferry.nativemem.."),
            List.of("dev.ferry.transfer.."),
            List.of("dev.ferry.store.."),
            List.of("dev.ferry.prefill..", "dev.ferry.decode.."),
            List.of("dev.ferry.cluster.."),
            List.of("dev.ferry.bench.."));

    /** kv-transfer-engine's packages, bottom first: the engine facade on top, the transports side by side. */
    static final List<List<String>> TRANSFER = List.of(
            List.of("dev.ferry.transfer.segment..", "dev.ferry.transfer.tls.."),
            List.of("dev.ferry.transfer.slice.."),
            List.of("dev.ferry.transfer.transport", "dev.ferry.transfer.transport.frame.."),
            List.of("dev.ferry.transfer.transport.serve.."),
            List.of("dev.ferry.transfer.transport.tcp..", "dev.ferry.transfer.transport.aeron..",
                    "dev.ferry.transfer.transport.shm..", "dev.ferry.transfer.spray..", "dev.ferry.transfer.metrics.."),
            List.of("dev.ferry.transfer"));

    /** kv-store's packages, bottom first; the packages of one level may use each other (without a cycle). */
    static final List<List<String>> STORE = List.of(
            List.of("dev.ferry.store.cli.."),
            List.of("dev.ferry.store.rpc..", "dev.ferry.store.coord..", "dev.ferry.store.alloc..", "dev.ferry.store.block..",
                    "dev.ferry.store.eviction..", "dev.ferry.store.model..", "dev.ferry.store.index..",
                    "dev.ferry.store.tier..", "dev.ferry.store.handoff..", "dev.ferry.store.gpu..",
                    "dev.ferry.store.metrics.."),
            List.of("dev.ferry.store.master.."),
            List.of("dev.ferry.store.node.."),
            List.of("dev.ferry.store.client.."),
            List.of("dev.ferry.store.sidecar.."),
            List.of("dev.ferry.store.engine.."),
            List.of("dev.ferry.store.server.."));

    /** The master's classes that speak RPC for it; the rest of the master knows nothing of RPC. */
    static final Set<String> MASTER_RPC_ADAPTERS = Set.of("MasterService", "MasterClient", "MasterProtocol",
            "InProcessMaster", "MasterErrors", "WriteStall");

    @ArchTest
    static final ArchRule modulesUseOnlyModulesBelow = Layers.layered(MODULES, false)
            .ensureAllClassesAreContainedInArchitecture()
            .as("modules: kv-native <- kv-transfer-engine <- kv-store <- prefill-node, decode-node"
                    + " <- cluster-tests <- bench; prefill and decode never use each other");

    @ArchTest
    static final ArchRule noPackageCycles = Layers.freeOfCycles("dev.ferry");

    @ArchTest
    static final ArchRule transferPackagesUseOnlyPackagesBelow = Layers.layered(TRANSFER, false)
            .as("kv-transfer-engine: segment, tls <- slice <- transport, transport.frame <- transport.serve"
                    + " <- transport.tcp, transport.aeron, transport.shm, spray, metrics <- dev.ferry.transfer");

    @ArchTest
    static final ArchRule storePackagesUseOnlyPackagesBelow = Layers.layered(STORE, true)
            .as("kv-store: cli <- rpc, coord, alloc, block, eviction, model, index, tier, handoff, gpu, metrics <- master <- node <- client"
                    + " <- sidecar <- engine <- server");

    @ArchTest
    static final ArchRule everyPackageHasItsPlace = classes().that().resideInAnyPackage("dev.ferry.transfer..",
                    "dev.ferry.store..")
            .should().resideInAnyPackage(packages(TRANSFER, STORE))
            .because("a new package of kv-transfer-engine or kv-store takes a level in LayeringTest"
                    + " and in docs/architecture.md");

    @ArchTest
    static final ArchRule masterLogicKnowsNothingOfRpc = noClasses().that().resideInAPackage("dev.ferry.store.master..")
            .and(DescribedPredicate.not(DescribedPredicate.describe("one of the RPC adapters " + MASTER_RPC_ADAPTERS,
                    (JavaClass c) -> MASTER_RPC_ADAPTERS.contains(topLevelSimpleName(c)))))
            .should().dependOnClassesThat().resideInAPackage("dev.ferry.store.rpc..")
            .because("the master's logic throws MasterException; its RPC adapters map it to RpcException");

    /** Guards the rules above against passing on an empty classpath: every module's classes are there. */
    @ArchTest
    static void everyModuleIsAnalysed(JavaClasses classes) {
        for (List<String> level : MODULES) {
            for (String module : level) {
                String root = module.substring(0, module.length() - 2);
                assertThat(classes.stream().anyMatch(c -> c.getPackageName().startsWith(root)))
                        .as("classes of %s on bench's test classpath", root).isTrue();
            }
        }
    }

    private static String[] packages(List<List<String>> first, List<List<String>> second) {
        return java.util.stream.Stream.concat(first.stream(), second.stream()).flatMap(List::stream)
                .toArray(String[]::new);
    }

    private static String topLevelSimpleName(JavaClass c) {
        String name = c.getName().substring(c.getPackageName().length() + 1);
        int nested = name.indexOf('$');
        return nested < 0 ? name : name.substring(0, nested);
    }
}
