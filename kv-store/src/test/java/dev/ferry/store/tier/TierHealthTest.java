package dev.ferry.store.tier;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/** How a failed write is read as a state of the disk, and how retries are paced (injected clock). */
class TierHealthTest {
    private final AtomicLong now = new AtomicLong();
    private final TierHealth health = new TierHealth(Path.of("/ssd"), 1_000, now::get);

    private static RocksDBException error(Status.Code code, Status.SubCode sub, String message) {
        return new RocksDBException(message, new Status(code, sub, message));
    }

    @Test
    void noSpaceIsFullAnotherIoErrorIsFailingAndABusyDatabaseIsNeither() {
        assertThat(TierHealth.classify(error(Status.Code.IOError, Status.SubCode.NoSpace, "IO error: No space left on device")))
                .isEqualTo(SsdHealth.FULL);
        assertThat(TierHealth.classify(new RocksDBException("While appending to file: 000020.blob: No space left on device")))
                .isEqualTo(SsdHealth.FULL);
        assertThat(TierHealth.classify(error(Status.Code.IOError, Status.SubCode.None, "IO error: Input/output error")))
                .isEqualTo(SsdHealth.FAILING);
        assertThat(TierHealth.classify(error(Status.Code.Busy, Status.SubCode.None, "Resource busy")))
                .isEqualTo(SsdHealth.OK);
    }

    @Test
    void aRefusalNamesTheStateAndTheOsErrorAndRetriesComeOncePerPeriod() {
        assertThat(health.retryDue()).as("nothing to retry while OK").isFalse();
        assertThat(health.failed(error(Status.Code.IOError, Status.SubCode.None, "IO error: Input/output error")))
                .isEqualTo(SsdHealth.FAILING);
        assertThat(health.refusal("put of block key 7")).hasMessage(
                "put of block key 7 refused: SSD failing (IO error: Input/output error)");
        assertThat(health.retryDue()).isFalse();
        now.addAndGet(1_000);
        assertThat(health.retryDue()).isTrue();
        assertThat(health.retryDue()).isFalse();
        assertThat(health.failed(error(Status.Code.IOError, Status.SubCode.NoSpace, "No space left on device")))
                .isEqualTo(SsdHealth.FULL);
        assertThat(health.refusal("x").health()).isEqualTo(SsdHealth.FULL);
        health.recovered();
        assertThat(health.state()).isEqualTo(SsdHealth.OK);
        now.addAndGet(5_000);
        assertThat(health.retryDue()).isFalse();
    }
}
