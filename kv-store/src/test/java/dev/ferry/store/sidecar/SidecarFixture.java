package dev.ferry.store.sidecar;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A sidecar with an embedded master on a Unix socket in a fresh temporary directory. */
final class SidecarFixture implements AutoCloseable {
    final Path dir;
    final Sidecar sidecar;

    SidecarFixture(java.util.function.UnaryOperator<Sidecar.Context> settings) {
        try {
            dir = Files.createTempDirectory("ferry-sc");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        sidecar = new Sidecar(settings.apply(new Sidecar.Context().socketPath(dir.resolve("s.sock"))
                .capacityBytes(8 << 20).nodeId("sc-" + dir.getFileName())));
    }

    SidecarClient client() {
        return SidecarClient.connect(sidecar.socketPath());
    }

    /** A client of protocol {@code version} (1: 8-byte keys, as the raw frames of some tests carry). */
    SidecarClient client(int version) {
        return SidecarClient.connect(sidecar.socketPath(), version);
    }

    dev.ferry.store.master.MasterStats masterStats() {
        return sidecar.embeddedMaster().master().stats();
    }

    /** A gauge or counter of the sidecar's registry, 0 when absent. */
    double meter(String name) {
        var gauge = sidecar.registry().find(name).gauge();
        return gauge == null ? 0 : gauge.value();
    }

    @Override
    public void close() throws IOException {
        sidecar.close();
        Files.deleteIfExists(dir);
    }
}
