/**
 * What every Ferry process shares: its lifecycle ({@link dev.ferry.store.cli.ProcessSupport}:
 * the ready line, stop on a signal or the end of stdin), its command-line runner, the one size
 * parser ({@link dev.ferry.store.cli.ByteSizes}), and the option groups that several commands
 * take, each one picocli mixin so that a flag means the same everywhere. The bottom of kv-store:
 * it uses no other package of the store.
 */
package dev.ferry.store.cli;
