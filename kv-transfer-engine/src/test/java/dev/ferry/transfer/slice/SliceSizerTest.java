package dev.ferry.transfer.slice;

import static dev.ferry.transfer.slice.SliceSizer.MAX_SLICE_BYTES;
import static dev.ferry.transfer.slice.SliceSizer.MIN_SLICE_BYTES;
import static dev.ferry.transfer.slice.SliceSizer.sliceBytes;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SliceSizerTest {
    private static final int KiB = 1024;
    private static final int MiB = 1024 * 1024;

    @Test
    void aRequestBelowTheSmallestSliceIsOneSlice() {
        assertThat(sliceBytes(1, 1)).isEqualTo(1);
        assertThat(sliceBytes(64 * KiB, 4)).isEqualTo(64 * KiB);
        assertThat(sliceBytes(MIN_SLICE_BYTES - 1, 2)).isEqualTo(MIN_SLICE_BYTES - 1);
    }

    @Test
    void midSizedRequestsGetTheSmallestSliceWhateverTheirLinks() {
        assertThat(sliceBytes(MiB, 1)).isEqualTo(512 * KiB);
        assertThat(sliceBytes(MiB, 4)).isEqualTo(512 * KiB);
        assertThat(sliceBytes(3 * MiB, 2)).isEqualTo(512 * KiB);
    }

    @Test
    void largerRequestsGetLargerSlicesUpToTheBound() {
        assertThat(sliceBytes(3 * MiB, 1)).isEqualTo(MiB);  // 768 KiB rounded up to a power of two
        assertThat(sliceBytes(4 * MiB, 1)).isEqualTo(MiB);
        assertThat(sliceBytes(256L * MiB, 4)).isEqualTo(MAX_SLICE_BYTES);
        assertThat(sliceBytes(1L << 40, 1)).isEqualTo(MAX_SLICE_BYTES);
    }

    @Test
    void moreLinksNeverMeanLargerSlices() {
        for (long request = 1; request <= 64L * MiB; request = request * 3 + 1) {
            for (int links = 1; links < 8; links++) {
                assertThat(sliceBytes(request, links + 1)).as("%d bytes", request)
                        .isLessThanOrEqualTo(sliceBytes(request, links));
            }
        }
    }
}
