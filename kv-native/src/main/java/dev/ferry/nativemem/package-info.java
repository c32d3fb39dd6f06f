/**
 * Memory and devices: page-aligned off-heap slabs (anonymous, or backed by a file under
 * {@code /dev/shm} so that another process can map them) and a description of what the
 * machine has, and the lowest CPU priority for a thread doing background work on them. Knows
 * nothing of transfers, keys or tiers.
 */
package dev.ferry.nativemem;
