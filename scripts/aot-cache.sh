# Ferry's ahead-of-time cache (JDK 25: JEP 483 classes loaded and linked, JEP 515 method
# profiles; JEP 514 makes it in one training run with -XX:AOTCacheOutput). Sourced by ./ferry and
# by a distribution's bin/ferry. A cache is optional: without one, or with one that does not
# match, Ferry runs as it does without it.
#
# Next to CACHE, CACHE.stamp records what it was made from: the JDK's runtime image and every
# jar of the classpath (size, modification time, path). The stamp is needed: JDK 25.0.3 maps a
# cache whose jars were rebuilt in place and runs the classes of the old jars
# (docs/benchmarks.md, "The first second: warm-up").

# ferry_aot_stamp JAVA CLASSPATH
#   Prints the stamp of JAVA's runtime image and CLASSPATH's jars (an entry DIR/* stands for
#   DIR's jars, as java reads it).
ferry_aot_stamp() {
  local java="$1" cp="$2" home entry jar entries
  home="$(cd "$(dirname "$(readlink -f "$java")")/.." && pwd)"
  stat -c '%s %.9Y %n' "$home/lib/modules"
  IFS=':' read -r -a entries <<< "$cp"
  for entry in "${entries[@]}"; do
    if [ "${entry%/\*}" != "$entry" ]; then
      for jar in "${entry%/\*}"/*.jar "${entry%/\*}"/*.JAR; do
        [ -e "$jar" ] && stat -c '%s %.9Y %n' "$jar"
      done
    elif [ -n "$entry" ]; then
      stat -c '%s %.9Y %n' "$entry" 2>/dev/null || echo "missing $entry"
    fi
  done
  return 0
}

# ferry_aot_flag CACHE JAVA CLASSPATH [JVM FLAGS...]
#   Prints -XX:AOTCache=CACHE when CACHE exists, its stamp matches JAVA and CLASSPATH, and the JVM
#   accepts it with these flags (its own check, -XX:AOTMode=on with -version: about a quarter of a
#   second). Prints nothing when there is no CACHE. Otherwise warns on stderr, naming how to make
#   a new one, and prints nothing.
ferry_aot_flag() {
  local cache="$1" java="$2" cp="$3"
  shift 3
  [ -f "$cache" ] || return 0
  if [ -f "$cache.stamp" ] && [ "$(ferry_aot_stamp "$java" "$cp")" = "$(cat "$cache.stamp")" ] &&
     "$java" "$@" -XX:AOTCache="$cache" -XX:AOTMode=on -cp "$cp" -version >/dev/null 2>&1; then
    echo "-XX:AOTCache=$cache"
  else
    echo "ferry: warning: the AOT cache $cache does not match this JDK or these jars; running without it" \
         "(make a new one: ${FERRY_AOT_REMAKE:-./ferry aot-cache})" >&2
  fi
}

# ferry_aot_train CACHE JAVA CLASSPATH [JVM FLAGS...]
#   Makes CACHE and CACHE.stamp from a training run: a 2 s 'ferry bench transfer' of 64 KiB
#   writes to a local target, after its warm-up pass (WRITE and READ, 64 KiB and 1 MiB, both
#   sides in one process). Returns non-zero, leaving no cache and the run's output in
#   CACHE.log, when the run or the cache fails.
ferry_aot_train() {
  local cache="$1" java="$2" cp="$3" out
  shift 3
  out="$(mktemp -d)"
  mkdir -p "$(dirname "$cache")"
  rm -f "$cache" "$cache.stamp"
  if "$java" "$@" -XX:AOTCacheOutput="$cache" -cp "$cp" dev.ferry.cluster.cli.FerryCommand \
       bench transfer --block-size=64KiB --duration=2 --out "$out" >"$cache.log" 2>&1 && [ -f "$cache" ]; then
    rm -rf "$out" "$cache.log"
    ferry_aot_stamp "$java" "$cp" > "$cache.stamp"
    return 0
  fi
  rm -rf "$out"
  rm -f "$cache"
  return 1
}
