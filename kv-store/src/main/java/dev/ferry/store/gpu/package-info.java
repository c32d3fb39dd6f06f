/**
 * The GPU tier: blocks held in device memory ({@link dev.ferry.nativemem.device.DeviceMemory}, CUDA
 * or host memory standing in), carved by the store's offset allocator, with their own state per
 * block ({@link dev.ferry.store.gpu.GpuCopy}). Mechanism only: what lands here, what is copied down
 * and what is evicted is decided above it.
 */
package dev.ferry.store.gpu;
