package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/aot-cache.sh, which ./ferry and a distribution's bin/ferry source: the launcher passes
 * an ahead-of-time cache to the JVM only when the JVM accepts it, warns when it does not, and
 * runs the same without one. Real JVMs and a real cache, from a training run of a small program.
 */
class AotCacheScriptTest {
    private static final Path SCRIPT = Path.of("").toAbsolutePath().getParent().resolve("scripts/aot-cache.sh");
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @TempDir
    Path dir;
    Path jar;
    Path cache;

    @BeforeEach
    void trainACacheOfASmallProgram() throws Exception {
        assertThat(SCRIPT).exists();
        jar = dir.resolve("hello.jar");
        writeJar(jar, "Hello", "public class Hello { public static void main(String[] a) { "
                + "System.out.println(new java.util.TreeMap<>(java.util.Map.of(\"hello\", 1)).firstKey()); } }");
        cache = dir.resolve("hello.aot");
        Run training = run(List.of(JAVA, "-XX:AOTCacheOutput=" + cache, "-cp", jar.toString(), "Hello"));
        assertThat(training.code()).as(training.err()).isZero();
        assertThat(cache).exists();
        // What ferry_aot_train writes after its training run.
        Run stamp = run(List.of("bash", "-c", ". \"$0\"; ferry_aot_stamp \"$1\" \"$2\" > \"$3\"", SCRIPT.toString(),
                JAVA, jar.toString(), cache + ".stamp"));
        assertThat(stamp.code()).as(stamp.err()).isZero();
        assertThat(Files.readString(Path.of(cache + ".stamp"))).contains("hello.jar").contains("lib/modules");
    }

    @Test
    void aMatchingCacheIsPassedToTheJvmWhichRunsWithIt() throws Exception {
        Run flag = aotFlag(cache);
        assertThat(flag.out().strip()).isEqualTo("-XX:AOTCache=" + cache);
        assertThat(flag.err()).isEmpty();
        // -XX:AOTMode=on: the JVM would refuse to start if it could not map the cache.
        Run hello = run(List.of(JAVA, flag.out().strip(), "-XX:AOTMode=on", "-cp", jar.toString(), "Hello"));
        assertThat(hello.code()).as(hello.err()).isZero();
        assertThat(hello.out().strip()).isEqualTo("hello");
    }

    @Test
    void withoutACacheNothingIsPassedAndNothingSaid() throws Exception {
        Run flag = aotFlag(dir.resolve("none.aot"));
        assertThat(flag.code()).isZero();
        assertThat(flag.out()).isEmpty();
        assertThat(flag.err()).isEmpty();
    }

    @Test
    void aCacheOfOtherJarsIsLeftOutWithAWarningAndTheProgramStillRuns() throws Exception {
        // A jar rebuilt in place (another size and time): JDK 25.0.3 would still map the cache and
        // run the old class; the stamp tells the launcher to leave the cache out.
        writeJar(jar, "Hello", "public class Hello { public static void main(String[] a) { "
                + "System.out.println(\"hello\"); } static int more() { return 42; } }");
        Run flag = aotFlag(cache);
        assertThat(flag.code()).isZero();
        assertThat(flag.out()).isEmpty();
        assertThat(flag.err()).contains("warning: the AOT cache " + cache + " does not match")
                .contains("./ferry aot-cache");
        Run hello = run(List.of(JAVA, "-cp", jar.toString(), "Hello"));
        assertThat(hello.code()).as(hello.err()).isZero();
        assertThat(hello.out().strip()).isEqualTo("hello");
    }

    @Test
    void aCacheWithoutItsStampIsLeftOutWithAWarning() throws Exception {
        Files.delete(Path.of(cache + ".stamp"));
        Run flag = aotFlag(cache);
        assertThat(flag.out()).isEmpty();
        assertThat(flag.err()).contains("does not match");
    }

    @Test
    void aFileThatIsNoCacheIsLeftOutWithAWarning() throws Exception {
        Path bogus = dir.resolve("bogus.aot");
        Files.writeString(bogus, "not a cache");
        Files.copy(Path.of(cache + ".stamp"), Path.of(bogus + ".stamp"));
        Run flag = aotFlag(bogus);
        assertThat(flag.out()).isEmpty();
        assertThat(flag.err()).contains("does not match");
    }

    @Test
    void theStampOfADistributionsLibStarListsItsJarsAndNothingElse() throws Exception {
        // A distribution runs with -cp "lib/*": its stamp is that of the jars java reads there.
        Path lib = Files.createDirectories(dir.resolve("lib"));
        Files.copy(jar, lib.resolve("a.jar"));
        Files.copy(jar, lib.resolve("b.jar"));
        Files.writeString(lib.resolve("aot-cache.sh"), "# not a jar");
        Files.writeString(lib.resolve("ferry.aot"), "not a jar either");
        Run stamp = run(List.of("bash", "-c", ". \"$0\"; ferry_aot_stamp \"$1\" \"$2\"", SCRIPT.toString(), JAVA,
                lib + "/*"));
        assertThat(stamp.code()).as(stamp.err()).isZero();
        assertThat(stamp.out().lines()).hasSize(3).anyMatch(l -> l.endsWith("lib/a.jar"))
                .anyMatch(l -> l.endsWith("lib/b.jar")).anyMatch(l -> l.endsWith("lib/modules"));
    }

    private Run aotFlag(Path cacheFile) throws Exception {
        return run(List.of("bash", "-c", ". \"$0\"; ferry_aot_flag \"$1\" \"$2\" \"$3\"", SCRIPT.toString(),
                cacheFile.toString(), JAVA, jar.toString()));
    }

    private record Run(int code, String out, String err) {
    }

    private Run run(List<String> command) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(new ArrayList<>(command)).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int code = p.waitFor();
        return new Run(code, Files.readString(out), Files.readString(err));
    }

    /** Compiles one class and writes it as the only entry of {@code target}. */
    private void writeJar(Path target, String name, String source) throws IOException {
        Path src = Files.createDirectories(dir.resolve("src-" + System.nanoTime()));
        Files.writeString(src.resolve(name + ".java"), source);
        int code = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", src.toString(),
                src.resolve(name + ".java").toString());
        assertThat(code).as("javac").isZero();
        try (OutputStream file = Files.newOutputStream(target);
             JarOutputStream jarOut = new JarOutputStream(file)) {
            jarOut.putNextEntry(new JarEntry(name + ".class"));
            jarOut.write(Files.readAllBytes(src.resolve(name + ".class")));
            jarOut.closeEntry();
        }
        assertThat(Files.size(target)).isPositive();
        assertThat(new String(Files.readAllBytes(target), StandardCharsets.ISO_8859_1)).contains(name);
    }
}
