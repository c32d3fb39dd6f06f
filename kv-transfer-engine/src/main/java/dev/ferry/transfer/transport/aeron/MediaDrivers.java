package dev.ferry.transfer.transport.aeron;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;

/**
 * Launches Aeron media drivers with Ferry's settings: SHARED threading (conductor, sender and
 * receiver on one thread, which backs off when idle), 8 MiB socket buffers and receiver
 * window. Used for each engine's embedded driver and for a driver that the engines of
 * several processes of one host share ({@code TransferEngine.Context#aeronDirectory}), over
 * which they reach each other by Aeron IPC.
 *
 * <p>Settings measured on this project's machine: SHARED threading, 64 KiB MTU (set per
 * publication) and 8 MiB socket buffers and receiver window reached about 1.2 GB/s over UDP
 * loopback where the defaults gave 0.13 GB/s (the buffers need {@code net.core.rmem_max} and
 * {@code wmem_max} raised to match). Stateless; thread-safe.
 */
public final class MediaDrivers {
    /** Socket buffers and receiver window, bytes (8 MiB). */
    public static final int SOCKET_BUFFER = 8 << 20;

    private MediaDrivers() {
    }

    /**
     * Launches a driver in this process, in {@code directory} (deleted at start and at close,
     * so a stale driver's files never linger).
     *
     * @param directory the driver's directory, on /dev/shm for speed (Aeron's default parent)
     * @return the running driver: close it to stop it
     * @throws RuntimeException from Aeron when the directory cannot be made or a driver is active there
     */
    public static MediaDriver launch(String directory) {
        return MediaDriver.launchEmbedded(new MediaDriver.Context().aeronDirectoryName(directory)
                .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                .warnIfDirectoryExists(false).socketRcvbufLength(SOCKET_BUFFER).socketSndbufLength(SOCKET_BUFFER)
                .initialWindowLength(SOCKET_BUFFER));
    }
}
