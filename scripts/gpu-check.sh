#!/usr/bin/env bash
# The GPU check: the device memory and GPU tier tests (the CUDA ones included) and the GPU copy
# benchmark (the tier's copies against raw cuMemcpyAsync from registered memory at 64 KiB, 256 KiB,
# 1 MiB and 4 MiB, both directions; 16 small reads one by one against batched; a GPU hit against a
# DRAM hit; 16 and 64 blocks of 16, 64 and 256 KiB copied one by one against one batched copy, both
# directions), with the Java runtime and jars that scripts/gpu-prepare.sh put in .gpu/. Needs no Java
# on the machine. Run from anywhere in the repository; results go to $OUT (default ./gpu-out).
# On a machine without an NVIDIA GPU the CUDA tests skip, and the benchmark runs once, briefly, on
# host memory standing in for a GPU, to show that the path works (its figures mean nothing). On a GPU
# machine a CUDA test that skips (no driver the JVM can load) fails the check.
# Exit status: 0 when the tests passed and the benchmark ran, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
G=$(pwd)/.gpu
OUT=${OUT:-$(pwd)/gpu-out}
mkdir -p "$OUT"
JAVA=$G/jre/bin/java
[ -x "$JAVA" ] || { echo "gpu-check: $JAVA is missing: run scripts/gpu-prepare.sh first" >&2; exit 1; }
# JCuda unpacks its native library into java.io.tmpdir.
TMP_DIR=$(mktemp -d)
trap 'rm -rf "$TMP_DIR"' EXIT
FLAGS=(--enable-native-access=ALL-UNNAMED "-Djava.io.tmpdir=$TMP_DIR")
LIB_CP=$(printf '%s:' "$G"/lib/*.jar)
TEST_CP=$LIB_CP$(printf '%s:' "$G"/test/gpu-tests.jar "$G"/test/assertj-core-*.jar)

# A GPU machine: an NVIDIA device node, nvidia-smi, or the driver library where the loader finds it
# (GPU_CHECK_ASSUME_GPU=1 says so without looking, to check the script itself).
if [ "${GPU_CHECK_ASSUME_GPU:-0}" = 1 ] || [ -e /dev/nvidiactl ] || command -v nvidia-smi > /dev/null 2>&1 || ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
  CUDA=1
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; } > "$OUT/gpu.txt" 2>&1 || true
  echo "gpu-check: GPU machine: $(cat "$OUT/gpu.txt" 2>/dev/null)"
  BENCH_ARGS=(--memory cuda --warmup 2 --iterations 3 --time 500ms)
else
  CUDA=0
  echo "gpu-check: no GPU here: the CUDA tests skip, the benchmark runs briefly on host memory"
  BENCH_ARGS=(--memory host --sizes 65536 --batch-sizes 16384,262144 --batch-blocks 16 --warmup 1 --iterations 1 --time 200ms)
fi
# Extra arguments for GpuCopyCheck, e.g. GPU_CHECK_BENCH_ARGS="--sizes 65536,1048576".
BENCH_ARGS+=(${GPU_CHECK_BENCH_ARGS:-})

START=$SECONDS
status=0
echo "== tests"
"$JAVA" "${FLAGS[@]}" -jar "$G/test/junit-console.jar" execute --disable-banner --disable-ansi-colors --details=tree \
    --class-path "$TEST_CP" --select-package dev.ferry.nativemem.device --select-package dev.ferry.store.gpu \
    --config=junit.jupiter.extensions.autodetection.enabled=false 2>&1 | tee "$OUT/tests.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "gpu-check: tests FAILED" >&2; status=1; }
if [ "$CUDA" = 1 ] && ! grep -Eq '\[ +0 tests aborted' "$OUT/tests.txt"; then
  echo "gpu-check: a GPU machine, but CUDA tests were skipped: see $OUT/tests.txt" >&2
  status=1
fi

echo "== copy benchmark ${BENCH_ARGS[*]}"
"$JAVA" "${FLAGS[@]}" -cp "$LIB_CP" dev.ferry.bench.GpuCopyCheck "${BENCH_ARGS[@]}" --json "$OUT/gpu-copy.json" \
    2>&1 | tee "$OUT/bench.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "gpu-check: benchmark FAILED" >&2; status=1; }
echo "gpu-check: done in $((SECONDS - START)) s, status $status; results in $OUT"
exit $status
