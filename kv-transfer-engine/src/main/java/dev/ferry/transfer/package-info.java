/**
 * The transfer engine: moves bytes between a local buffer and a {@code (segment, offset)}
 * of any node, in batches, cut into CRC-checked slices that are sprayed across links and
 * retried on another link when one fails. Knows nothing of keys, blocks or tiers.
 *
 * <p>Modelled on the Mooncake Transfer Engine and its successor TENT
 * (kvcache-ai/Mooncake, docs/source/design/tent).
 */
package dev.ferry.transfer;
