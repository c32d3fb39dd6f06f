package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import org.junit.jupiter.api.Test;

class CopyStateTest {
    private final SegmentState segment = new SegmentState("a",
            new SegmentDescriptor("a/dram", 1 << 20, new Endpoint("127.0.0.1", 1)), new OffsetAllocator(1 << 20));

    @Test
    void theSegmentCountsWhatIsBeingDemotedAndWhatClaimsTheSsd() {
        CopyState c = new CopyState(segment, 0, 1000);
        assertThat(c.dram()).isEqualTo(CopyState.Dram.RESIDENT);
        assertThat(segment.demoting()).isZero();
        c.dram(CopyState.Dram.DEMOTING);
        assertThat(segment.demoting()).isEqualTo(1);
        assertThat(segment.demotingBytes()).isEqualTo(OffsetAllocator.aligned(1000));
        assertThat(segment.ssdBytes()).isEqualTo(1000); // on its way to SSD
        c.ssd(CopyState.Ssd.STORED);
        c.dram(CopyState.Dram.NONE, IndexedBlock.ON_SSD);
        assertThat(c.offset()).isEqualTo(IndexedBlock.ON_SSD);
        assertThat(segment.demoting()).isZero();
        assertThat(segment.demotingBytes()).isZero();
        assertThat(segment.ssdBytes()).isEqualTo(1000);
        c.dram(CopyState.Dram.LOADING, 4096);
        assertThat(c.dram().readable()).isFalse();
        c.detach();
        assertThat(segment.ssdBytes()).isZero();
    }

    @Test
    void aCopyTakenBackFromSsdHasNoDramRange() {
        CopyState c = new CopyState(segment, IndexedBlock.ON_SSD, 10);
        assertThat(c.inDram()).isFalse();
        assertThat(segment.ssdBytes()).isZero();
        c.ssd(CopyState.Ssd.STORED);
        assertThat(segment.ssdBytes()).isEqualTo(10);
    }
}
