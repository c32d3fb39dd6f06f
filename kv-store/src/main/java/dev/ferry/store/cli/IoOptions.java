package dev.ferry.store.cli;

import dev.ferry.transfer.transport.tcp.IoBackend;
import dev.ferry.transfer.transport.tcp.IoSelection;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The I/O backend of a process's TCP transfer engines (a picocli mixin of the store node, the
 * prefill and decode nodes and {@code ferry bench}): {@code --io uring|epoll|nio}, default the
 * system property {@value IoBackend#PROPERTY}, else {@link IoBackend#DEFAULT}. A backend that
 * cannot run here falls back to the next (io_uring, epoll, NIO), with a warning that says why.
 * Not thread-safe; read once at start.
 */
public final class IoOptions {
    @Option(names = "--io", paramLabel = "uring|epoll|nio", description = "I/O backend of the TCP transport: uring "
            + "(io_uring), epoll or nio; one that cannot run here falls back to the next, with a warning (default: "
            + "the system property " + IoBackend.PROPERTY + ", else epoll).")
    String io;

    /**
     * Makes the backend asked for this process's ({@link IoBackend#PROPERTY}): a command calls
     * it first, before it starts an engine.
     *
     * @return the backend asked for and the one engines will run on
     * @throws IllegalArgumentException naming the choices, for an unknown backend
     */
    public IoSelection install() {
        if (io != null) {
            System.setProperty(IoBackend.PROPERTY, IoBackend.parse(io).flag());
        }
        return IoSelection.select(IoBackend.configured());
    }

    /** This flag as arguments for a child process: none when not given. */
    public List<String> arguments() {
        return io == null ? List.of() : List.of("--io", IoBackend.parse(io).flag());
    }
}
