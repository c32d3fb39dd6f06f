package dev.ferry.cluster.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a {@link ReplaySummary} as one pretty-printed JSON object: {@code title}, then every
 * summary field under its record name (units as documented there: ms, GB/s, s), then, when
 * the engines' counters were read, {@code bytesByTransport} and {@code slicesByTransport}
 * (objects keyed by transport) and {@code links} (one object per link: node, transport,
 * link, bytes, slices, failures), then any further sections the caller gives. Jackson
 * serialises the records. Stateless; thread-safe.
 */
final class SummaryJson {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private SummaryJson() {
    }

    /** Writes {@code file}, replacing it; {@code traffic} may be null (left out). */
    static Path write(Path file, ReplaySummary summary, TrafficReport traffic, String title, Map<String, Object> more)
            throws IOException {
        Map<String, Object> object = new LinkedHashMap<>();
        object.put("title", title);
        for (var component : ReplaySummary.class.getRecordComponents()) {
            try {
                object.put(component.getName(), component.getAccessor().invoke(summary));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read ReplaySummary." + component.getName(), e);
            }
        }
        if (traffic != null) {
            object.put("bytesByTransport", traffic.bytesByTransport());
            object.put("slicesByTransport", traffic.slicesByTransport());
            object.put("links", traffic.links());
        }
        object.putAll(more);
        JSON.writeValue(file.toFile(), object);
        return file;
    }
}
