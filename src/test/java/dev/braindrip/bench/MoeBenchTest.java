package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.MoeLayer;
import dev.braindrip.ops.moe.MoeOutput;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The MoE benchmark on a tiny shape, and its peer (the per-expert loop) computing the same layer. */
class MoeBenchTest {
    @Test
    void peerLoopComputesTheSameLayer() {
        for (Map<String, Object> shape : new Map[] {
            OpBench.shape("tokens", 37, "hidden", 24, "ffn", 16, "experts", 6, "top_k", 2, "routing", "softmax_topk"),
            OpBench.shape("tokens", 9, "hidden", 16, "ffn", 8, "experts", 8, "top_k", 3, "routing", "sigmoid_grouped", "groups", 4,
                    "topk_groups", 2, "shared_ffn", 12)}) {
            MoeConfig c = MoeBench.config(shape);
            int t = (Integer) shape.get("tokens"), h = (Integer) shape.get("hidden"), f = (Integer) shape.get("ffn");
            int fs = (Integer) shape.getOrDefault("shared_ffn", 0);
            try (Arena arena = Arena.on(Device.cpu(), 64L << 20)) {
                MoeBench.Weights w = MoeBench.Weights.make(arena, DType.F32, c, h, f, fs, true);
                try (Tensor x = arena.uniform(DType.F32, -1, 1, t, h);
                     MoeOutput layer = new MoeLayer(arena, c, w.stacked).forward(x);
                     Tensor loop = new MoeBench.PerExpertLoop(arena, c, w).forward(x)) {
                    float[] a = layer.y().toFloatArray(), b = loop.toFloatArray();
                    double max = 0;
                    for (float v : a) max = Math.max(max, Math.abs(v));
                    assertTrue(max > 0, "a non-trivial output");
                    for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5 * (1 + max), shape + " at " + i);
                }
                arena.releaseAll();
            }
        }
    }

    @Test
    void runsATinyShapeWithItsPeer() {
        Map<String, Object> shape = OpBench.shape("tokens", 40, "hidden", 32, "ffn", 16, "experts", 4, "top_k", 2, "routing", "softmax_topk");
        BenchResult r = MoeBench.run(shape, Device.cpu(), DType.F32, new BenchOptions(1, 3, true));
        assertEquals("moe", r.op());
        assertEquals("grouped_simt", r.shape().get("path"));
        assertTrue(r.medianMs() > 0 && r.flops() == 2.0 * 40 * 3 * 32 * 2 * 16, "flops " + r.flops());
        assertNotNull(r.peer());
        assertTrue(r.peer().medianMs() > 0);
        BenchResult decode = MoeBench.run(OpBench.shape("tokens", 2, "hidden", 32, "ffn", 16, "experts", 4, "top_k", 2), Device.cpu(), DType.F32,
                new BenchOptions(0, 2, false));
        assertEquals("decode", decode.shape().get("path"));
        assertEquals(0.0, decode.flops(), "decode-sized: GB/s is the figure");
        assertTrue(decode.bytes() > 0);
    }
}
