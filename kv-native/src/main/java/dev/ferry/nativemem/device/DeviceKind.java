package dev.ferry.nativemem.device;

/** Which memory stands behind a {@link DeviceMemory}. */
public enum DeviceKind {
    /** GPU memory through the CUDA driver. */
    CUDA,
    /** Off-heap host memory standing in for a GPU (machines without CUDA, CI). */
    HOST
}
