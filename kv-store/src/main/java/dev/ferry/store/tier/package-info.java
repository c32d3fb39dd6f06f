/**
 * Storage tiers of a store node below DRAM. {@link dev.ferry.store.tier.SsdTier} keeps KV
 * blocks in RocksDB with BlobDB ({@link dev.ferry.store.tier.SsdRocksDb}): block bytes in
 * blob files, a 16-byte metadata record per block ({@link dev.ferry.store.tier.StoredBlock})
 * in a column family of its own, both written in one atomic batch.
 */
package dev.ferry.store.tier;
