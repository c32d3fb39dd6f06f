package dev.ferry.transfer.spray;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.SliceOwner;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.SliceListener;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The dispatcher and the spray policies on simulated links of known rates: where slices go,
 * how long a transfer takes against the ideal, what a retry avoids, which priority leaves first.
 */
class SprayingTest {
    private static final int SLICE = 1 << 20;
    private static final MemorySegment LOCAL = MemorySegment.ofArray(new byte[SLICE]);

    private static final class Owner implements SliceOwner {
        int done;
        int failed;

        @Override
        public boolean isDone() {
            return false;
        }
    }

    private record Run(long finishNanos, double[] shares, Owner owner) {
    }

    /** Sends {@code slices} slices over links of the given rates (bytes/ns); returns finish time and shares. */
    private static Run run(SprayPolicy policy, int slices, double... rates) {
        FakeClock sim = new FakeClock();
        List<SimulatedLink> links = new ArrayList<>();
        for (int i = 0; i < rates.length; i++) {
            links.add(new SimulatedLink(sim, "link" + i, rates[i]));
        }
        Owner owner = new Owner();
        SliceDispatcher dispatcher = new SliceDispatcher(links, policy, Runnable::run, () -> true, (s, e) -> owner.failed++);
        sim.listener = new SliceListener() {
            @Override
            public void onCompleted(Slice slice, Link link) {
                owner.done++;
                dispatcher.drain();
            }

            @Override
            public void onFailed(Slice slice, Link link, TransferException cause) {
                dispatcher.retry(slice, link);
            }
        };
        for (int i = 0; i < slices; i++) {
            dispatcher.enqueue(new Slice(i, Opcode.WRITE, LOCAL, 0, "t", (long) i * SLICE, SLICE, 1, owner));
        }
        sim.run();
        double total = links.stream().mapToLong(l -> l.estimator.bytes()).sum();
        return new Run(sim.now, links.stream().mapToDouble(l -> l.estimator.bytes() / total).toArray(), owner);
    }

    @Test
    void earliestFinishSharesBytesByRateAndNearlyReachesTheSummedRate() {
        double[] rates = {0.8, 0.4, 0.2, 0.1}; // bytes per ns
        Run run = run(new EarliestFinishPolicy(), 400, rates);
        assertThat(run.owner.done).isEqualTo(400);
        double ideal = 400.0 * SLICE / 1.5;
        assertThat(run.finishNanos).isLessThan((long) (ideal / 0.95)); // >= 95% of the summed rate
        assertThat(run.shares[0]).isCloseTo(0.8 / 1.5, org.assertj.core.api.Assertions.within(0.03));
        assertThat(run.shares[3]).isCloseTo(0.1 / 1.5, org.assertj.core.api.Assertions.within(0.03));
    }

    @Test
    void roundRobinIsHeldBackByTheSlowestLink() {
        Run spray = run(new EarliestFinishPolicy(), 400, 0.4, 0.1);
        Run rr = run(new RoundRobinPolicy(), 400, 0.4, 0.1);
        assertThat(rr.shares[0]).isEqualTo(0.5);
        // On a 4:1 skew round-robin takes 2.5x as long as the ideal; spraying about the ideal.
        assertThat((double) rr.finishNanos / spray.finishNanos).isGreaterThan(2.0);
    }

    /** A dispatcher over {@code links} whose completions drain it and also run {@code onCompleted}. */
    private static SliceDispatcher dispatcher(FakeClock sim, List<SimulatedLink> links, SprayPolicy policy,
                                              Owner owner, java.util.function.Consumer<Link> onCompleted) {
        SliceDispatcher dispatcher = new SliceDispatcher(links, policy, Runnable::run, () -> true,
                (s, e) -> owner.failed++);
        sim.listener = new SliceListener() {
            @Override
            public void onCompleted(Slice slice, Link link) {
                owner.done++;
                onCompleted.accept(link);
                dispatcher.drain();
            }

            @Override
            public void onFailed(Slice slice, Link link, TransferException cause) {
                dispatcher.retry(slice, link);
            }
        };
        return dispatcher;
    }

    private static Slice slice(long id, int bytes, Owner owner) {
        return new Slice(id, Opcode.WRITE, LOCAL, 0, "t", 0, bytes, 1, owner);
    }

    @Test
    void fourToOneLinksWithLatencyCarryFourToOneOfTheBytesAtNearlyTheSummedRate() {
        FakeClock sim = new FakeClock();
        List<SimulatedLink> links = List.of(new SimulatedLink(sim, "fast", 0.4), new SimulatedLink(sim, "slow", 0.1));
        links.forEach(l -> l.latencyNanos = 200_000); // 0.2 ms each way and back
        Owner owner = new Owner();
        SliceDispatcher dispatcher = dispatcher(sim, links, new EarliestFinishPolicy(), owner, l -> { });
        for (int i = 0; i < 400; i++) {
            dispatcher.enqueue(slice(i, SLICE, owner));
        }
        sim.run();
        assertThat(owner.done).isEqualTo(400);
        double fast = links.get(0).estimator.bytes() / (400.0 * SLICE);
        assertThat(fast).isCloseTo(0.8, org.assertj.core.api.Assertions.within(0.03));
        double ideal = 400.0 * SLICE / 0.5;
        assertThat((double) sim.now).isLessThan(ideal / 0.95);
        assertThat(links.get(0).estimator.bytesPerNano()).isCloseTo(0.4, org.assertj.core.api.Assertions.within(0.02));
        assertThat(links.get(1).estimator.bytesPerNano()).isCloseTo(0.1, org.assertj.core.api.Assertions.within(0.005));
    }

    @Test
    void aLinkWhoseLatencyRisesIsAvoidedForSmallSlicesYetStillCarriesLargeOnes() {
        FakeClock sim = new FakeClock();
        SimulatedLink a = new SimulatedLink(sim, "a", 1.0); // 1 GB/s
        SimulatedLink b = new SimulatedLink(sim, "b", 1.0);
        a.latencyNanos = 20_000;
        b.latencyNanos = 20_000;
        List<SimulatedLink> links = List.of(a, b);
        Owner owner = new Owner();
        int small = 4096;
        long[] nextId = {0};
        int[] smallLeft = {0};
        // A closed loop of small requests, one at a time (each completion sends the next), so that
        // bytes in flight never tell the links apart: only a latency estimate can.
        SliceDispatcher[] d = new SliceDispatcher[1];
        d[0] = dispatcher(sim, links, new EarliestFinishPolicy(), owner, link -> {
            if (smallLeft[0] > 0) {
                smallLeft[0]--;
                d[0].enqueue(slice(nextId[0]++, small, owner));
            }
        });
        smallLeft[0] = 199;
        d[0].enqueue(slice(nextId[0]++, small, owner));
        sim.run();
        assertThat(b.estimator.slices()).as("the idle link is probed").isPositive();

        a.latencyNanos = 2_000_000; // a's round trip goes from 20 us to 2 ms
        int aBefore = a.sent.size();
        smallLeft[0] = 399;
        d[0].enqueue(slice(nextId[0]++, small, owner));
        sim.run();
        int aSmall = a.sent.size() - aBefore;
        assertThat(aSmall).as("small slices on the slow-to-answer link, of 400").isLessThan(400 / 10);
        assertThat(a.estimator.latencyNanos()).isGreaterThan(1_000_000);

        // Its bandwidth is intact: a large transfer still uses both links, and takes about the ideal time.
        int aBeforeLarge = a.sent.size();
        long start = sim.now;
        for (int i = 0; i < 100; i++) {
            d[0].enqueue(slice(nextId[0]++, SLICE, owner));
        }
        sim.run();
        int aLarge = a.sent.size() - aBeforeLarge;
        assertThat(aLarge).as("large slices on link a, of 100").isBetween(35, 65);
        double ideal = 100.0 * SLICE / 2.0;
        assertThat((double) (sim.now - start)).isLessThan(ideal / 0.85 + 2_000_000);
    }

    @Test
    void aLinkWhoseRateDropsToAQuarterMidRunLosesShareWithinFortyCompletions() {
        FakeClock sim = new FakeClock();
        SimulatedLink a = new SimulatedLink(sim, "a", 0.4);
        SimulatedLink b = new SimulatedLink(sim, "b", 0.4);
        a.latencyNanos = 100_000;
        b.latencyNanos = 100_000;
        Owner owner = new Owner();
        int n = 40;
        long[] dropAt = {-1};
        int[][] settled = {null};
        SliceDispatcher dispatcher = dispatcher(sim, List.of(a, b), new EarliestFinishPolicy(), owner, link -> {
            if (link == a && dropAt[0] >= 0 && settled[0] == null && a.estimator.slices() == dropAt[0] + n) {
                settled[0] = new int[] {a.sent.size(), b.sent.size()};
            }
        });
        long dropTime = (long) (300.0 * SLICE / 0.8); // about 300 slices in
        sim.schedule(dropTime, () -> {
            a.bytesPerNano = 0.1;
            dropAt[0] = a.estimator.slices();
        });
        for (int i = 0; i < 1200; i++) {
            dispatcher.enqueue(slice(i, SLICE, owner));
        }
        int aBeforeDrop = a.sent.size(); // filled windows only, nothing completed yet
        assertThat(aBeforeDrop).isPositive();
        sim.run();
        assertThat(owner.done).isEqualTo(1200);
        assertThat(settled[0]).as("link a completed %d slices after its drop", n).isNotNull();
        double aShare = (a.sent.size() - settled[0][0])
                / (double) (a.sent.size() - settled[0][0] + b.sent.size() - settled[0][1]);
        // Rates 0.1 : 0.4 after the drop: a's fair share is 0.2, down from 0.5.
        assertThat(aShare).isBetween(0.12, 0.28);
    }

    @Test
    void aDownLinkGetsNothingAndARetryAvoidsTheLinkItFailedOn() {
        FakeClock sim = new FakeClock();
        SimulatedLink a = new SimulatedLink(sim, "a", 1.0);
        SimulatedLink b = new SimulatedLink(sim, "b", 1.0);
        a.up = false;
        EarliestFinishPolicy policy = new EarliestFinishPolicy();
        assertThat(policy.select(List.of(a, b), SLICE, null)).isSameAs(b);
        a.up = true;
        assertThat(policy.select(List.of(a, b), SLICE, b)).isSameAs(a);
        b.up = false;
        a.up = false;
        assertThat(policy.select(List.of(a, b), SLICE, null)).isNull();
    }

    @Test
    void highPrioritySlicesLeaveBeforeWaitingNormalOnes() {
        FakeClock sim = new FakeClock();
        SimulatedLink link = new SimulatedLink(sim, "a", 1.0);
        Owner owner = new Owner();
        SliceDispatcher dispatcher = new SliceDispatcher(List.of(link), new EarliestFinishPolicy(2L * SLICE),
                Runnable::run, () -> true, (s, e) -> { });
        sim.listener = new SliceListener() {
            @Override
            public void onCompleted(Slice slice, Link l) {
                dispatcher.drain();
            }

            @Override
            public void onFailed(Slice slice, Link l, TransferException cause) {
            }
        };
        for (int i = 0; i < 6; i++) {
            dispatcher.enqueue(new Slice(i, Opcode.WRITE, LOCAL, 0, "t", 0, SLICE, 1, owner));
        }
        dispatcher.enqueue(new Slice(99, Opcode.WRITE, LOCAL, 0, "t", 0, SLICE, 0, owner));
        sim.run();
        // Two slices filled the window before the high-priority one arrived; it went next.
        assertThat(link.sent.stream().map(Slice::id).toList()).startsWith(0L, 1L, 99L);
    }

    @Test
    void aSliceThatFailedOverFromAnotherPeersLinksIsNeverSentBackOnThem() {
        FakeClock sim = new FakeClock();
        SimulatedLink aeron = new SimulatedLink(sim, "aeron", 1.0);
        SimulatedLink tcp = new SimulatedLink(sim, "tcp", 1.0);
        tcp.up = false;
        List<TransferException> causes = new ArrayList<>();
        SliceDispatcher tcpLinks = new SliceDispatcher(List.of(tcp), new EarliestFinishPolicy(), Runnable::run,
                () -> false, (s, e) -> causes.add(e));
        Slice slice = new Slice(1, Opcode.WRITE, LOCAL, 0, "t", 0, SLICE, 1, new Owner());
        slice.avoid(aeron); // it failed on the Aeron links, which handed it over to the TCP ones
        tcpLinks.enqueue(slice);
        assertThat(aeron.sent).isEmpty();
        assertThat(causes).singleElement().extracting(Throwable::getMessage).asString().contains("no link");
    }

    @Test
    void slicesFailWhenNoLinkComesBack() {
        FakeClock sim = new FakeClock();
        SimulatedLink link = new SimulatedLink(sim, "a", 1.0);
        link.up = false;
        Owner owner = new Owner();
        List<TransferException> causes = new ArrayList<>();
        SliceDispatcher dispatcher = new SliceDispatcher(List.of(link), new EarliestFinishPolicy(), Runnable::run,
                () -> false, (s, e) -> causes.add(e));
        dispatcher.enqueue(new Slice(1, Opcode.READ, LOCAL, 0, "t", 0, SLICE, 1, owner));
        assertThat(causes).singleElement().extracting(Throwable::getMessage).asString().contains("no link");
    }
}
