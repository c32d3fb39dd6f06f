package dev.ferry.cluster.cli;

import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.transfer.transport.aeron.MediaDrivers;
import io.aeron.CommonContext;
import io.aeron.driver.MediaDriver;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry aeron-driver}: an Aeron media driver with Ferry's settings
 * ({@link MediaDrivers}) that the transfer engines of several processes of this host share
 * ({@code --aeron-dir} of the processes that take it, {@code TransferEngine.Context#aeronDirectory}
 * in code): they then reach each other over Aeron IPC. Runs until SIGTERM, Ctrl-C or the end
 * of stdin; prints {@code FERRY-READY role=aeron-driver dir=DIR}.
 */
@Command(name = "aeron-driver", mixinStandardHelpOptions = true,
        description = "Run an Aeron media driver that Ferry engines of this host share (Aeron IPC between them).")
final class AeronDriverCommand implements Callable<Integer> {
    @Option(names = "--dir", description = "The driver's directory (default: Aeron's default directory + '-ferry').")
    String dir;

    @Option(names = "--exit-on-stdin-close", description = "Also stop when stdin closes (for a parent process).")
    boolean exitOnStdinClose;

    @Override
    public Integer call() {
        String directory = dir != null ? dir : CommonContext.getAeronDirectoryName() + "-ferry";
        MediaDriver driver = MediaDrivers.launch(directory);
        ProcessSupport.announceReady("role=aeron-driver dir=" + driver.aeronDirectoryName());
        ProcessSupport.runUntilStopped(exitOnStdinClose, driver);
        return ExitCodes.OK;
    }
}
