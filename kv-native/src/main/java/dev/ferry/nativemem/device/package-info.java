/**
 * Device memory and copies for the GPU tier: one interface, {@link dev.ferry.nativemem.device.DeviceMemory},
 * with a CUDA implementation through JCuda ({@link dev.ferry.nativemem.device.CudaDeviceMemory}) and a
 * host-memory one ({@link dev.ferry.nativemem.device.HostDeviceMemory}) for machines without CUDA, so
 * that the logic above runs everywhere. {@link dev.ferry.nativemem.device.DeviceMemories} picks one.
 * Knows nothing of keys or tiers: a pool is a raw range of device memory that its user carves.
 */
package dev.ferry.nativemem.device;
