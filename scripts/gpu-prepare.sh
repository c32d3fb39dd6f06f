#!/usr/bin/env bash
# Builds .gpu/: what a GPU machine without Java needs to run scripts/gpu-check.sh.
#   .gpu/jre/        a jlinked Java runtime (java.base, jdk.unsupported, java.management, java.logging,
#                    jdk.management, java.naming, and jdk.zipfs for JUnit's scan of test jars)
#   .gpu/lib/        kv-native, kv-store, JCuda (with only its driver library), JMH, and a slim jar of
#                    bench's GPU copy benchmark
#   .gpu/test/       the device memory and GPU tier tests, AssertJ, the JUnit console launcher
# Run from anywhere; builds the project first (SKIP_BUILD=1 to reuse target/). Fails when .gpu/ is
# over 60 MB (the tree a device run carries is at most 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JDK_BIN=$JAVA_HOME/bin
LIMIT_BYTES=$((60 * 1000 * 1000))
M2=${M2_REPO:-$HOME/.m2/repository}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  mvn -o -q -B -DskipTests package
fi
for f in kv-native/target/kv-native-0.1.0-SNAPSHOT.jar kv-store/target/kv-store-0.1.0-SNAPSHOT.jar \
         bench/target/classpath.txt bench/target/classes/META-INF/BenchmarkList; do
  [ -e "$f" ] || { echo "gpu-prepare: $f is missing: build first (mvn -o -q -B -DskipTests package)" >&2; exit 1; }
done

prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" pom.xml | head -1; }
JUNIT=$(prop junit.version)           # 5.X.Y: the console launcher is platform 1.X.Y
CONSOLE_VERSION=1.${JUNIT#5.}
ASSERTJ=$(prop assertj.version)
CONSOLE=$M2/org/junit/platform/junit-platform-console-standalone/$CONSOLE_VERSION/junit-platform-console-standalone-$CONSOLE_VERSION.jar
ASSERTJ_JAR=$M2/org/assertj/assertj-core/$ASSERTJ/assertj-core-$ASSERTJ.jar
if [ ! -f "$CONSOLE" ]; then
  mvn -q -B dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:$CONSOLE_VERSION
fi

rm -rf .gpu/lib .gpu/test .gpu/work
mkdir -p .gpu/lib .gpu/test .gpu/work

# The runtime: rebuilt only when missing, or from another JDK or module list.
MODULES=java.base,jdk.unsupported,java.management,java.logging,jdk.management,java.naming,jdk.zipfs
RELEASE="$($JDK_BIN/java -version 2>&1 | head -1) $MODULES"
if [ ! -x .gpu/jre/bin/java ] || [ "$(cat .gpu/jre/.built-from 2>/dev/null)" != "$RELEASE" ]; then
  rm -rf .gpu/jre
  "$JDK_BIN/jlink" --add-modules "$MODULES" \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output .gpu/jre
  echo "$RELEASE" > .gpu/jre/.built-from
fi

# Libraries, from the class path Maven resolved for bench.
tr ':' '\n' < bench/target/classpath.txt | grep -E '/(jmh-core|jopt-simple|commons-math3|jcuda|slf4j-api)-[^/]*\.jar$' \
  | grep -v jcuda-natives | while read -r jar; do cp "$jar" .gpu/lib/; done
cp kv-native/target/kv-native-0.1.0-SNAPSHOT.jar kv-store/target/kv-store-0.1.0-SNAPSHOT.jar .gpu/lib/

# JCuda's natives, with only the driver API's library (the jar holds 26 MB of others).
NATIVES=$(tr ':' '\n' < bench/target/classpath.txt | grep '/jcuda-natives-.*\.jar$')
(cd .gpu/work && mkdir natives && cd natives && unzip -q "$NATIVES" 'lib/libJCudaDriver-*' 'META-INF/MANIFEST.MF' \
  && "$JDK_BIN/jar" --create --file "$ROOT/.gpu/lib/jcuda-driver-natives.jar" --manifest META-INF/MANIFEST.MF lib)

# bench's GPU copy benchmark alone, with its line of JMH's benchmark list.
(cd bench/target/classes && mkdir -p "$ROOT/.gpu/work/bench/META-INF" \
  && grep 'GpuCopyBenchmark' META-INF/BenchmarkList > "$ROOT/.gpu/work/bench/META-INF/BenchmarkList" \
  && cp META-INF/CompilerHints "$ROOT/.gpu/work/bench/META-INF/" \
  && find dev/ferry/bench -maxdepth 1 -name 'GpuCopy*.class' > "$ROOT/.gpu/work/bench-classes.txt" \
  && find dev/ferry/bench/jmh_generated -name 'GpuCopyBenchmark_*.class' >> "$ROOT/.gpu/work/bench-classes.txt" \
  && "$JDK_BIN/jar" --create --file "$ROOT/.gpu/lib/bench-gpu.jar" @"$ROOT/.gpu/work/bench-classes.txt" \
  && "$JDK_BIN/jar" --update --file "$ROOT/.gpu/lib/bench-gpu.jar" -C "$ROOT/.gpu/work/bench" META-INF)

# The tests: the device memory's and the GPU tier's.
"$JDK_BIN/jar" --create --file .gpu/test/gpu-tests.jar \
  -C kv-native/target/test-classes dev/ferry/nativemem/device \
  -C kv-store/target/test-classes dev/ferry/store/gpu
cp "$CONSOLE" .gpu/test/junit-console.jar
cp "$ASSERTJ_JAR" .gpu/test/
rm -rf .gpu/work

SIZE=$(du -sb .gpu | cut -f1)
echo "gpu-prepare: .gpu/ holds $SIZE bytes"
du -sb .gpu/jre .gpu/lib .gpu/test
if [ "$SIZE" -gt "$LIMIT_BYTES" ]; then
  echo "gpu-prepare: .gpu/ is over $LIMIT_BYTES bytes" >&2
  exit 1
fi
