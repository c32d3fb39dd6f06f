package dev.ferry.cluster.report;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes results as CSV: a header of {@link ResultColumns}, then one line per request,
 * UTF-8, {@code \n} line ends. The error field follows RFC 4180: empty for a successful
 * request, otherwise quoted with inner quotes doubled, so commas and line breaks survive.
 * Stateless; thread-safe.
 */
final class CsvResults {
    private CsvResults() {
    }

    /** Writes {@code file}, replacing it. */
    static Path write(Path file, List<RequestResult> results) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write(String.join(",", ResultColumns.NUMERIC) + "," + ResultColumns.ERROR + "\n");
            StringBuilder line = new StringBuilder();
            for (RequestResult r : results) {
                line.setLength(0);
                for (long v : ResultColumns.values(r)) {
                    line.append(v).append(',');
                }
                if (r.error() != null) {
                    line.append(quote(r.error()));
                }
                w.write(line.append('\n').toString());
            }
        }
        return file;
    }

    /** An RFC 4180 quoted field. */
    static String quote(String field) {
        return '"' + field.replace("\"", "\"\"") + '"';
    }
}
