package dev.ferry.cluster.report;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;

/** Writes one batch as an Arrow IPC file (the format pandas, Polars and DuckDB open). Stateless. */
public final class ArrowFiles {
    private ArrowFiles() {
    }

    /** Writes {@code root}'s rows to {@code file}, replacing it. */
    public static Path write(Path file, VectorSchemaRoot root) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
             ArrowFileWriter writer = new ArrowFileWriter(root, null, channel)) {
            writer.start();
            writer.writeBatch();
            writer.end();
        }
        return file;
    }
}
