package dev.ferry.transfer.transport.tcp;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The I/O backend of the TCP transport's event loops: Linux io_uring, Linux epoll, or the
 * JDK's NIO selector, each with its Netty handler and channel classes. The one place that
 * names them; {@link IoSelection#select} picks the one a transport runs on, falling back
 * (io_uring, then epoll, then NIO) when the one asked for cannot run here.
 *
 * <p>Immutable; thread-safe.
 */
public enum IoBackend {
    /** Linux io_uring (Netty's {@code netty-transport-native-io_uring}): submissions and completions through rings. */
    URING("uring"),
    /** Linux epoll (Netty's {@code netty-transport-native-epoll}): readiness, then a system call per read or write. */
    EPOLL("epoll"),
    /** The JDK's NIO selector: everywhere. */
    NIO("nio");

    /** The system property that names the backend of every engine of the process ({@code uring}, {@code epoll}, {@code nio}). */
    public static final String PROPERTY = "ferry.tcp.io";
    /**
     * The backend when none is named: epoll. On loopback with the engine's checksums it moved
     * as many or more bytes per second as io_uring at 64 KiB to 4 MiB requests (docs/benchmarks.md,
     * "I/O backend").
     */
    public static final IoBackend DEFAULT = EPOLL;
    /** The kernel's switch for io_uring: 0 on, 1 only for a group, 2 off for everyone. */
    static final Path URING_DISABLED = Path.of("/proc/sys/kernel/io_uring_disabled");

    private final String flag;

    IoBackend(String flag) {
        this.flag = flag;
    }

    /** The name on command lines and in {@link #PROPERTY}: {@code uring}, {@code epoll} or {@code nio}. */
    public String flag() {
        return flag;
    }

    /**
     * The backend named {@code name} ({@code uring} or {@code io_uring}, {@code epoll},
     * {@code nio}; any case).
     *
     * @throws IllegalArgumentException naming the choices, for any other name
     */
    public static IoBackend parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("io_uring") || n.equals("io-uring")) {
            return URING;
        }
        for (IoBackend b : values()) {
            if (b.flag.equals(n)) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown I/O backend '" + name + "': choose one of "
                + Arrays.stream(values()).map(IoBackend::flag).collect(Collectors.joining(", ")));
    }

    /**
     * The backend named by {@link #PROPERTY}, or {@link #DEFAULT} when it is unset or empty.
     *
     * @throws IllegalArgumentException when the property names no backend
     */
    public static IoBackend configured() {
        String name = System.getProperty(PROPERTY, "");
        return name.isBlank() ? DEFAULT : parse(name);
    }

    /** Why this backend cannot run in this process, or null when it can. */
    public String unavailability() {
        return switch (this) {
            case URING -> uringUnavailability(URING_DISABLED);
            case EPOLL -> Epoll.isAvailable() ? null : String.valueOf(Epoll.unavailabilityCause());
            case NIO -> null;
        };
    }

    /** Why io_uring cannot run: turned off by the kernel's switch at {@code disabledSwitch}, or Netty's native library does not load. */
    static String uringUnavailability(Path disabledSwitch) {
        String off = kernelSwitchOff(disabledSwitch);
        if (off != null) {
            return off;
        }
        return IoUring.isAvailable() ? null : String.valueOf(IoUring.unavailabilityCause());
    }

    /** Why the kernel's switch at {@code disabledSwitch} turns io_uring off, or null when it lets us use it (or is absent). */
    static String kernelSwitchOff(Path disabledSwitch) {
        String value;
        try {
            value = Files.readString(disabledSwitch).trim();
        } catch (IOException absent) {
            return null; // kernels before 6.6 have no switch: Netty's probe tells
        }
        return switch (value) {
            case "0" -> null;
            case "1" -> null; // only members of kernel.io_uring_group (and root) may: Netty's probe tells
            default -> disabledSwitch + " is " + value + " (io_uring disabled by the kernel)";
        };
    }

    /** The event loops' I/O handler. */
    public IoHandlerFactory handlerFactory() {
        return switch (this) {
            case URING -> IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
    }

    /** The channel of a server socket. */
    public Class<? extends ServerChannel> serverChannel() {
        return switch (this) {
            case URING -> IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    /** The channel of a connection. */
    public Class<? extends SocketChannel> socketChannel() {
        return switch (this) {
            case URING -> IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }

    /**
     * Whether a payload can be read from the connection's socket straight into its destination
     * ({@link SliceFrameReader}): on epoll only. NIO's channels hand out no descriptor, and
     * io_uring's accepted sockets are blocking (Netty 4.2.18 accepts them without
     * {@code SOCK_NONBLOCK}: {@code /proc/PID/fdinfo} shows flags 02 where epoll's show 02004002),
     * so a read of its own there would hold the event loop until the peer sent more.
     */
    boolean readsIntoPlace() {
        return this == EPOLL;
    }

    /** Whether {@link #readsIntoPlace()} holds for the backend of {@code channel}. */
    static boolean readsIntoPlace(io.netty.channel.Channel channel) {
        return channel instanceof io.netty.channel.epoll.AbstractEpollStreamChannel;
    }
}
