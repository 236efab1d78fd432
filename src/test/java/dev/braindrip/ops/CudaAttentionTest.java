package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.nn.KvCacheChecks;
import dev.braindrip.testing.GpuTest;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU correctness cases (AttentionHarness, KvCacheChecks) on cuda:0. A case outside what the
 * CUDA kernels implement (attention.h: BF16/F16 with D = Dv in {64, 80, 96, 128, 256}; F32 with
 * D ≤ 256, Dv ≤ 512) must be refused by the capability query with UnsupportedOperationException.
 */
@GpuTest
class CudaAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cuda(0), 4L << 30);
    }

    @AfterAll
    static void close() {
        if (arena != null) arena.close();
    }

    static List<AttentionCase> cases() {
        return AttentionHarness.standardCases();
    }

    static boolean cudaImplements(AttentionCase c) {
        int d = c.headDim(), dv = c.headDimV();
        if (c.dtype() == DType.F32) return d <= 256 && dv <= 512;
        return d == dv && (d == 64 || d == 80 || d == 96 || d == 128 || d == 256);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(AttentionCase c) {
        if (cudaImplements(c)) {
            AttentionHarness.check(arena, c);
        } else {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> AttentionHarness.check(arena, c));
            assertTrue(e.getMessage().startsWith("attention"), e.getMessage());
        }
    }

    @Test
    void denseDecodeMatchesPrefill() {
        KvCacheChecks.denseDecodeMatchesPrefill(arena);
    }

    @Test
    void slidingWindowDecodeMatchesWindowedPrefill() {
        KvCacheChecks.slidingWindowDecodeMatchesWindowedPrefill(arena);
    }

    @Test
    void sinkWindowDecodeMatchesInCachePositions() {
        KvCacheChecks.sinkWindowDecodeMatchesInCachePositions(arena);
    }

    @Test
    void streamingLlmRuns100kStepsInFixedMemory() {
        try (Arena a = Arena.on(Device.cuda(0), 256L << 20, 5)) {
            KvCacheChecks.streamingRunsInFixedMemory(a, 100_000);
        }
    }
}
