/**
 * What prefill and decode engines use to reach the store: through a sidecar on their host,
 * or through a master and a transfer engine of their own. The top of kv-store: it may use
 * every other package of the store, and none uses it.
 */
package dev.ferry.store.engine;
