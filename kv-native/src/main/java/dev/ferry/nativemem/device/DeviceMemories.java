package dev.ferry.nativemem.device;

/**
 * Opens the device memory a {@link DeviceChoice} asks for, and says which it opened
 * ({@link DeviceMemory#kind()}, {@link DeviceMemory#describe()}: with {@link DeviceChoice#AUTO}
 * on a machine without CUDA, the description says why host memory stands in).
 */
public final class DeviceMemories {
    private DeviceMemories() {
    }

    /**
     * @param choice            host, cuda or auto
     * @param ordinal           the CUDA device, 0 for the first
     * @param hostCapacityBytes the size of host memory standing in for a GPU, bytes, at least 1
     *                          (the device's own size applies to CUDA)
     * @throws DeviceUnavailableException when {@code choice} is {@link DeviceChoice#CUDA} and CUDA cannot be opened
     * @throws DeviceException            when the CUDA driver fails otherwise
     */
    public static DeviceMemory open(DeviceChoice choice, int ordinal, long hostCapacityBytes) {
        return switch (choice) {
            case HOST -> new HostDeviceMemory(hostCapacityBytes, "chosen");
            case CUDA -> CudaDeviceMemory.open(ordinal);
            case AUTO -> {
                try {
                    yield CudaDeviceMemory.open(ordinal);
                } catch (DeviceUnavailableException e) {
                    yield new HostDeviceMemory(hostCapacityBytes, e.getMessage());
                }
            }
        };
    }
}
