package dev.ferry.cluster.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes results as an Arrow IPC file (the random-access "file" format, one record batch,
 * one row per request, columns of {@link ResultColumns}; the title in the schema metadata),
 * which pandas ({@code pyarrow.ipc.open_file}), Polars ({@code read_ipc}) and DuckDB open
 * directly. Needs the JVM flags of {@code jvm.properties} (Arrow's memory module opens
 * {@code java.nio}). Stateless; thread-safe.
 */
final class ArrowResults {
    private ArrowResults() {
    }

    static Schema schema(String title) {
        List<Field> fields = new ArrayList<>();
        for (int c = 0; c < ResultColumns.NUMERIC.size(); c++) {
            ArrowType type = new ArrowType.Int(ResultColumns.isInt(c) ? 32 : 64, true);
            fields.add(new Field(ResultColumns.NUMERIC.get(c), FieldType.notNullable(type), null));
        }
        fields.add(new Field(ResultColumns.ERROR, FieldType.nullable(ArrowType.Utf8.INSTANCE), null));
        return new Schema(fields, Map.of("title", title));
    }

    /** Writes {@code file}, replacing it. */
    static Path write(Path file, List<RequestResult> results, String title) throws IOException {
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.create(schema(title), allocator)) {
            root.allocateNew();
            int errorColumn = ResultColumns.NUMERIC.size();
            for (int row = 0; row < results.size(); row++) {
                RequestResult r = results.get(row);
                long[] v = ResultColumns.values(r);
                for (int c = 0; c < v.length; c++) {
                    if (ResultColumns.isInt(c)) {
                        ((IntVector) root.getVector(c)).setSafe(row, (int) v[c]);
                    } else {
                        ((BigIntVector) root.getVector(c)).setSafe(row, v[c]);
                    }
                }
                VarCharVector error = (VarCharVector) root.getVector(errorColumn);
                if (r.error() == null) {
                    error.setNull(row);
                } else {
                    error.setSafe(row, r.error().getBytes(StandardCharsets.UTF_8));
                }
            }
            root.setRowCount(results.size());
            ArrowFiles.write(file, root);
        }
        return file;
    }
}
