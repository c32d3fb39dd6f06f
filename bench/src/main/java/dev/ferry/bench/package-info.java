/**
 * JMH benchmarks. Every benchmark runs beside its physical baseline in the same run (a raw
 * NIO socket pair for TCP, {@code MemorySegment.copy} for shared memory), so the report's
 * ratio holds on a shared machine where absolute figures drift. Run with {@code ./ferry jmh}.
 */
package dev.ferry.bench;
