package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Shapes and figures of the block-sparse benchmark (BENCHMARKS.md, "sparse"). */
class SparseAttentionBenchTest {
    @Test
    void standardShapesFollowBenchmarksMd() {
        List<Map<String, Object>> gpu = SparseAttentionBench.standardShapes(Device.cuda(0));
        assertEquals(List.of(SparseAttentionBench.shape(1, 16384, 16384, 16, 16, 128, true, 64, "local:4,stride:8")), gpu);
        assertEquals(SparseAttentionBench.KEYS, List.copyOf(gpu.get(0).keySet()));
        List<Map<String, Object>> cpu = SparseAttentionBench.standardShapes(Device.cpu());
        assertEquals(List.of(SparseAttentionBench.shape(1, 4096, 4096, 8, 8, 128, true, 64, "local:4,stride:8")), cpu);
        // local:4 + stride:8 over 256 blocks: a small fraction of the causal pairs
        double f = BlockSparseLayout.parse("local:4,stride:8", 64, 16384).causalFraction(16384, 16384);
        assertTrue(f > 0.05 && f < 0.2, "causal fraction " + f);
    }

    @Test
    void measuresSparseAgainstDense() {
        BenchResult r = SparseAttentionBench.run(SparseAttentionBench.shape(1, 256, 256, 2, 1, 32, true, 64, "local:1"), Device.cpu(), DType.F32,
                new BenchOptions(1, 2, false));
        double density = BlockSparseLayout.local(64, 256, 1).density(256, 256, true);
        assertEquals(density, (double) r.extras().get("density"), 1e-12);
        assertEquals(r.peer().medianMs(), (double) r.extras().get("dense_median_ms"), 1e-12);
        assertEquals(r.peer().medianMs() / r.medianMs(), (double) r.extras().get("speedup_vs_dense"), 1e-12);
        assertEquals(4.0 * 2 * 32 * density * 256 * 256, r.flops(), 1e-6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparseAttentionBench.run(
                SparseAttentionBench.shape(1, 256, 256, 2, 1, 32, true, 64, "local:1,band:2"), Device.cpu(), DType.F32, new BenchOptions(1, 1, false)));
        assertTrue(e.getMessage().contains("'band:2' is unknown"), e.getMessage());
    }
}
