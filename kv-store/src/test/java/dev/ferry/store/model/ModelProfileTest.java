package dev.ferry.store.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ModelProfileTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;

    @Test
    void blockSizesFollowTheKvShape() {
        ModelProfile llama = ModelProfile.byName("llama-3.1-8b");
        assertThat(llama.bytesPerToken()).isEqualTo(128 * KIB);
        assertThat(llama.blockBytes()).isEqualTo(64 * MIB);

        ModelProfile qwen7 = ModelProfile.byName("qwen2.5-7b");
        assertThat(qwen7.bytesPerToken()).isEqualTo(56 * KIB); // 28 * 2 * 4 * 128 * 2
        assertThat(qwen7.blockBytes()).isEqualTo(28 * MIB);

        ModelProfile qwenSmall = ModelProfile.byName("qwen2.5-0.5b");
        assertThat(qwenSmall.bytesPerToken()).isEqualTo(12 * KIB);
        assertThat(qwenSmall.blockBytes()).isEqualTo(6 * MIB);

        ModelProfile tiny = ModelProfile.byName("tiny");
        assertThat(tiny.bytesPerToken()).isEqualTo(512); // 2 * 2 * 1 * 64 * 2
        assertThat(tiny.blockBytes()).isEqualTo(256 * KIB);

        ModelProfile micro = ModelProfile.byName("micro");
        assertThat(micro.bytesPerToken()).isEqualTo(32); // 1 * 2 * 1 * 8 * 2
        assertThat(micro.blockBytes()).isEqualTo(16 * KIB);
    }

    @Test
    void knownProfilesAreBf16With512TokenBlocks() {
        assertThat(ModelProfile.known()).extracting(ModelProfile::name)
                .containsExactly("llama-3.1-8b", "qwen2.5-7b", "qwen2.5-0.5b", "tiny", "micro");
        assertThat(ModelProfile.known()).allSatisfy(p -> {
            assertThat(p.dtypeBytes()).isEqualTo(2);
            assertThat(p.blockTokens()).isEqualTo(512);
        });
    }

    @Test
    void computeAndDecodeFigures() {
        ModelProfile llama = ModelProfile.byName("llama-3.1-8b");
        assertThat(llama.prefillFlops(1000)).isCloseTo(2 * 8.03e9 * 1000, within(1.0));
        assertThat(llama.decodeStepBytes(0)).isCloseTo(8.03e9 * 2, within(1.0));
        assertThat(llama.decodeStepBytes(10)).isCloseTo(8.03e9 * 2 + 10 * 128 * KIB, within(1.0));
    }

    @Test
    void byNameIgnoresCaseAndNamesTheKnownProfiles() {
        assertThat(ModelProfile.byName("Llama-3.1-8B").name()).isEqualTo("llama-3.1-8b");
        assertThatThrownBy(() -> ModelProfile.byName("gpt-5")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown model profile 'gpt-5'; known: llama-3.1-8b, qwen2.5-7b, qwen2.5-0.5b, tiny, micro");
    }
}
