package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Counting and shapes of the attention benchmark (BENCHMARKS.md). */
class AttentionBenchTest {
    @Test
    void visiblePairsFollowTheMask() {
        assertEquals(16L * 16, AttentionBench.visiblePairs(16, 16, false, -1));
        assertEquals(16L * 17 / 2, AttentionBench.visiblePairs(16, 16, true, -1)); // S(S+1)/2
        // bottom-right: 2 queries over 5 keys see 4 and 5 keys
        assertEquals(9, AttentionBench.visiblePairs(2, 5, true, -1));
        // window left 2 (3 keys incl. the diagonal) over 6 tokens: 1 + 2 + 3 + 3 + 3 + 3
        assertEquals(15, AttentionBench.visiblePairs(6, 6, true, 2));
        // Sq > Skv: the first 3 of 5 queries see nothing
        assertEquals(1 + 2, AttentionBench.visiblePairs(5, 2, true, -1));
    }

    @Test
    void standardShapesCoverTheSweep() {
        List<Map<String, Object>> gpu = AttentionBench.standardShapes(Device.cuda(0));
        assertEquals(24 + 6 + 9 + 2, gpu.size());
        for (Map<String, Object> s : gpu.subList(0, 30)) {
            assertEquals(16384, (int) s.get("batch") * (int) s.get("seq_q"), s.toString()); // B·S = 16384
        }
        assertEquals(4095, gpu.get(gpu.size() - 2).get("window_left"));
        List<Map<String, Object>> cpu = AttentionBench.standardShapes(Device.cpu());
        assertEquals(List.of(2048, 4096), cpu.stream().map(s -> s.get("seq_q")).toList());
    }

    @Test
    void largeRandomTensorsAreTiledFromOneBlock() {
        try (Arena a = Arena.on(Device.cpu(), 1L << 30); Tensor t = AttentionBench.random(a, DType.BF16, 3, (1 << 24) / 2 + 7)) {
            short[] x = t.toShortArray();
            int block = 1 << 24;
            assertArrayEquals(java.util.Arrays.copyOfRange(x, 0, x.length - block), java.util.Arrays.copyOfRange(x, block, x.length));
            assertEquals(1, a.liveTensors(), "the block is freed");
        }
    }
}
