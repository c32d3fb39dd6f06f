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
        Simulation sim = new Simulation();
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

    @Test
    void aDownLinkGetsNothingAndARetryAvoidsTheLinkItFailedOn() {
        Simulation sim = new Simulation();
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
        Simulation sim = new Simulation();
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
        Simulation sim = new Simulation();
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
        Simulation sim = new Simulation();
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
