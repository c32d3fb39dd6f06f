package dev.ferry.store.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Splitting a batch's copies across the caller's thread and a helper. */
class ParallelCopyTest {
    private record Call(int from, int to, Thread thread) {
    }

    private static long[] sizes(long... bytes) {
        return bytes;
    }

    @Test
    void aLargeBatchRunsInTwoHalvesOfAboutEqualBytesTheSecondOnTheHelper() throws InterruptedException {
        try (ParallelCopy copy = new ParallelCopy(2, 100)) {
            List<Call> calls = new CopyOnWriteArrayList<>();
            CountDownLatch both = new CountDownLatch(2);
            assertThat(copy.run(sizes(10, 50, 20, 30, 40), (from, to) -> {
                calls.add(new Call(from, to, Thread.currentThread()));
                both.countDown();
                try {
                    both.await(); // both halves at once: the helper took its half
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            })).isTrue();
            assertThat(calls).extracting(c -> List.of(c.from(), c.to()))
                    .containsExactlyInAnyOrder(List.of(0, 2), List.of(2, 5));
            assertThat(calls).filteredOn(c -> c.from() == 0).extracting(Call::thread)
                    .containsExactly(Thread.currentThread());
            assertThat(calls).filteredOn(c -> c.from() == 2).extracting(c -> c.thread().getName())
                    .containsExactly("ferry-copy");
            assertThat(copy.splits()).isEqualTo(1);
            assertThat(copy.helped()).isEqualTo(1);
        }
    }

    @Test
    void smallBatchesOneValueAndOneThreadRunWholeOnTheCaller() {
        try (ParallelCopy two = new ParallelCopy(2, 100); ParallelCopy one = new ParallelCopy(1, 0)) {
            for (var c : List.of(new Object[] {two, sizes(30, 30, 30)}, new Object[] {two, sizes(1000)},
                    new Object[] {one, sizes(500, 500)}, new Object[] {ParallelCopy.SERIAL, sizes(500, 500)})) {
                long[] bytes = (long[]) c[1];
                List<Call> calls = new CopyOnWriteArrayList<>();
                assertThat(((ParallelCopy) c[0]).run(bytes, (from, to) ->
                        calls.add(new Call(from, to, Thread.currentThread())))).isFalse();
                assertThat(calls).containsExactly(new Call(0, bytes.length, Thread.currentThread()));
            }
            assertThat(two.splits()).isZero();
        }
    }

    @Test
    void aFailingHalfIsThrownOnlyAfterTheOtherHalfEnded() {
        try (ParallelCopy copy = new ParallelCopy(2, 0)) {
            AtomicBoolean secondEnded = new AtomicBoolean();
            CountDownLatch secondStarted = new CountDownLatch(1);
            assertThatThrownBy(() -> copy.run(sizes(10, 10), (from, to) -> {
                if (from == 0) {
                    try {
                        secondStarted.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    throw new IllegalStateException("first half failed");
                }
                secondStarted.countDown();
                try {
                    Thread.sleep(50); // still copying when the first half fails
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                secondEnded.set(true);
            })).hasMessage("first half failed");
            assertThat(secondEnded).isTrue();

            assertThatThrownBy(() -> copy.run(sizes(10, 10), (from, to) -> {
                if (from == 1) {
                    throw new IllegalArgumentException("second half failed");
                }
            })).isInstanceOf(IllegalArgumentException.class).hasMessage("second half failed");
        }
    }

    @Test
    void aClosedCopierRunsOnTheCallerAndTheBadSettingsAreRefused() {
        ParallelCopy copy = new ParallelCopy(2, 0);
        copy.close();
        List<Call> calls = new CopyOnWriteArrayList<>();
        assertThat(copy.run(sizes(10, 10), (from, to) -> calls.add(new Call(from, to, Thread.currentThread()))))
                .isFalse();
        assertThat(calls).containsExactly(new Call(0, 2, Thread.currentThread()));
        assertThatThrownBy(() -> new ParallelCopy(3, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 or 2");
        assertThatThrownBy(() -> new ParallelCopy(2, -1)).isInstanceOf(IllegalArgumentException.class);
    }
}
