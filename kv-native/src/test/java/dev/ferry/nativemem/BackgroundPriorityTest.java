package dev.ferry.nativemem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BackgroundPriorityTest {
    @Test
    void onlyTheCallingThreadRunsAtTheLowestPriority() throws InterruptedException {
        int before = niceOfThisThread();
        AtomicReference<Object> seen = new AtomicReference<>();
        Thread t = new Thread(() -> {
            boolean lowered = BackgroundPriority.lowerCurrentThread();
            seen.set(lowered ? niceOfThisThread() : "not lowered");
        });
        t.start();
        t.join();
        assertThat(seen.get()).isEqualTo(BackgroundPriority.LOWEST_NICE);
        assertThat(niceOfThisThread()).isEqualTo(before).isLessThan(BackgroundPriority.LOWEST_NICE);
    }

    @Test
    void aVirtualThreadIsRefusedRatherThanItsCarrierLowered() throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try {
                BackgroundPriority.lowerCurrentThread();
            } catch (Throwable e) {
                failure.set(e);
            }
        }).join();
        assertThat(failure.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("virtual thread");
    }

    /** Field 19 of /proc/thread-self/stat, counted after the command name's closing parenthesis. */
    private static int niceOfThisThread() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(fields[16]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
