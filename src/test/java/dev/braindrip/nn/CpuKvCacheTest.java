package dev.braindrip.nn;

import dev.braindrip.jni.NativeCpu;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Device;
import org.junit.jupiter.api.Test;

/** The KV caches on the CPU backend (KvCacheChecks). */
class CpuKvCacheTest {
    private static Arena arena() {
        return Arena.on(Device.cpu(), 256L << 20, 5);
    }

    @Test
    void denseDecodeMatchesPrefill() {
        try (Arena a = arena()) {
            KvCacheChecks.denseDecodeMatchesPrefill(a);
        }
    }

    @Test
    void slidingWindowDecodeMatchesWindowedPrefill() {
        try (Arena a = arena()) {
            KvCacheChecks.slidingWindowDecodeMatchesWindowedPrefill(a);
        }
    }

    @Test
    void sinkWindowDecodeMatchesInCachePositions() {
        try (Arena a = arena()) {
            KvCacheChecks.sinkWindowDecodeMatchesInCachePositions(a);
        }
    }

    /**
     * One OpenMP thread: a decode step here is two (head, query) work items, and on a loaded
     * 2-core machine the spin-wait of a second thread made each step 10x slower (3 ms vs 0.2 ms
     * measured), which is the test's time, not what it checks.
     */
    @Test
    void streamingLlmRuns100kStepsInFixedMemory() {
        NativeCpu.bd_cpu_set_threads(1);
        try (Arena a = arena()) {
            KvCacheChecks.streamingRunsInFixedMemory(a, 100_000);
        } finally {
            NativeCpu.bd_cpu_set_threads(0); // back to the default
        }
    }
}
