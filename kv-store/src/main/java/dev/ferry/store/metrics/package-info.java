/**
 * What every long-running process of the store serves for operators: health, readiness and
 * Prometheus metrics over HTTP ({@link dev.ferry.store.metrics.HealthServer}). Knows nothing
 * of the processes' state: each process registers its own meters.
 */
package dev.ferry.store.metrics;
