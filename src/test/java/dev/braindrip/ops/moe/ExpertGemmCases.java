package dev.braindrip.ops.moe;

import dev.braindrip.ops.Activation;

import dev.braindrip.ops.Ops;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The grouped and decode expert GEMMs against a per-expert loop of {@code Ops.gemm} calls (the fused
 * kernels against the chain of simple ops they replace), and the staged pipeline against MoeLayer.
 */
abstract class ExpertGemmCases {
    abstract Device device();

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 512L << 20);
    }

    @AfterEach
    void close() {
        arena.close();
    }

    /** One routed batch: fixture, x, and the routing of x. */
    record Batch(MoeFixture fx, Tensor x, RoutingResult routing, int[] ids, float[] weights, int tokens) {}

    Batch batch(MoeConfig c, int tokens, int hidden, int ffn, boolean biases, long seed) {
        MoeFixture fx = new MoeFixture(arena, DType.F32, c, hidden, ffn, seed).build(new MoeFixture.Extras(false, biases, 0, false));
        Tensor x = fx.input(tokens);
        RoutingResult r;
        try (Tensor logits = new MoeRouter(arena, c).logits(x, fx.weights.router())) {
            r = new MoeRouter(arena, c).route(logits, null);
        }
        return new Batch(fx, x, r, r.topkIds().toIntArray(), r.topkWeights().toFloatArray(), tokens);
    }

    /** Expert e's slice of a (E, rows, cols) host array as a (rows, cols) tensor. */
    Tensor slice(float[] all, int e, int rows, int cols) {
        return arena.fromFloats(Arrays.copyOfRange(all, e * rows * cols, (e + 1) * rows * cols), DType.F32, rows, cols);
    }

    /** Rows of a (n, cols) host array at the given indices, as a tensor. */
    Tensor rows(float[] src, int cols, int[] idx) {
        float[] out = new float[idx.length * cols];
        for (int i = 0; i < idx.length; i++) System.arraycopy(src, idx[i] * cols, out, i * cols, cols);
        return arena.fromFloats(out, DType.F32, idx.length, cols);
    }

    /** Slots routed to expert e, ascending. */
    static int[] slotsOf(int[] ids, int e) {
        return java.util.stream.IntStream.range(0, ids.length).filter(s -> ids[s] == e).toArray();
    }

    /** act (slots of e, F) by the loop: act(x_e · Wg_eᵀ + bg_e) ⊙ (x_e · Wu_eᵀ + bu_e) through Ops. */
    float[] loopGateUp(Batch b, int e, int[] slots) {
        MoeFixture fx = b.fx;
        int h = fx.hidden, f = fx.ffn, k = fx.config.topK();
        Ops ops = Ops.on(arena);
        int[] tokens = Arrays.stream(slots).map(s -> s / k).toArray();
        float[] xs = b.x.toFloatArray();
        Activation act = fx.config.activation() == ExpertActivation.SWIGLU ? Activation.SILU : Activation.GELU;
        try (Tensor xe = rows(xs, h, tokens);
             Tensor wg = slice(fx.weights.wGate().toFloatArray(), e, f, h);
             Tensor wu = slice(fx.weights.wUp().toFloatArray(), e, f, h);
             Tensor bg = fx.weights.bGate() == null ? null : vec(fx.weights.bGate().toFloatArray(), e, f);
             Tensor bu = fx.weights.bUp() == null ? null : vec(fx.weights.bUp().toFloatArray(), e, f);
             Tensor g = ops.gemm(xe, wg, bg, true);
             Tensor u = ops.gemm(xe, wu, bu, true);
             Tensor a = ops.activation(g, act);
             Tensor au = ops.mul(a, u)) {
            return au.toFloatArray();
        }
    }

    /** Expert e's row of a (E, n) host array as an (n) tensor. */
    Tensor vec(float[] all, int e, int n) {
        return arena.fromFloats(Arrays.copyOfRange(all, e * n, (e + 1) * n), DType.F32, n);
    }

    /** y rows (slots of e, H) by the loop: w_s · (a_e · Wd_eᵀ + bd_e). */
    float[] loopDown(Batch b, int e, int[] slots, float[] actRows) {
        MoeFixture fx = b.fx;
        int h = fx.hidden, f = fx.ffn;
        try (Tensor ae = arena.fromFloats(actRows, DType.F32, slots.length, f);
             Tensor wd = slice(fx.weights.wDown().toFloatArray(), e, h, f);
             Tensor bd = fx.weights.bDown() == null ? null : vec(fx.weights.bDown().toFloatArray(), e, h);
             Tensor y = Ops.on(arena).gemm(ae, wd, bd, true)) {
            float[] out = y.toFloatArray();
            for (int i = 0; i < slots.length; i++) for (int c = 0; c < h; c++) out[i * h + c] *= b.weights[slots[i]];
            return out;
        }
    }

    static float[] pick(float[] all, int cols, int[] rowIdx) {
        float[] out = new float[rowIdx.length * cols];
        for (int i = 0; i < rowIdx.length; i++) System.arraycopy(all, rowIdx[i] * cols, out, i * cols, cols);
        return out;
    }

    static void assertRowsClose(String what, float[] want, float[] got, double rtol) {
        double max = 0;
        for (float v : want) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 1e-6 + rtol * max, what + " at " + i);
        }
    }

    void groupedAgainstLoop(MoeConfig c, int tokens, int hidden, int ffn, boolean biases, long seed) {
        Batch b = batch(c, tokens, hidden, ffn, biases, seed);
        ExpertGemms g = new ExpertGemms(arena, c, b.fx.weights);
        MoeDispatch d = new MoeDispatch(arena);
        int f = ffn, h = hidden;
        String what = c + " T " + tokens + " H " + hidden + " F " + ffn + " seed " + seed;
        try (ExpertAlignment a = d.align(b.routing.topkIds(), c.experts());
             Tensor act = g.gateUp(b.x, a);
             Tensor ySlots = g.down(act, a, b.routing.topkWeights())) {
            float[] actAll = act.toFloatArray(), yAll = ySlots.toFloatArray();
            int[] slotPos = a.slotPos().toIntArray();
            for (int e = 0; e < c.experts(); e++) {
                int[] slots = slotsOf(b.ids, e);
                if (slots.length == 0) continue;
                int[] pos = Arrays.stream(slots).map(s -> slotPos[s]).toArray();
                float[] wantAct = loopGateUp(b, e, slots), gotAct = pick(actAll, f, pos);
                assertRowsClose(what + ": grouped gate_up of expert " + e, wantAct, gotAct, 1e-5);
                float[] wantY = loopDown(b, e, slots, gotAct);
                assertRowsClose(what + ": grouped down of expert " + e, wantY, pick(yAll, h, slots), 1e-5);
            }
        } finally {
            b.routing.close();
            b.x.close();
            b.fx.close();
        }
    }

    @Test
    void groupedGemmsMatchAPerExpertLoopOfGemms() {
        MoeConfig mixtral = MoeConfig.builder().experts(8).topK(2).normTopk(true).build();
        groupedAgainstLoop(mixtral, 45, 32, 24, false, 51);
        groupedAgainstLoop(mixtral.toBuilder().activation(ExpertActivation.GEGLU).build(), 45, 32, 24, true, 52);
        MoeConfig odd = MoeConfig.builder().experts(5).topK(3).build();
        groupedAgainstLoop(odd, 70, 20, 12, false, 53); // E 5, H and F not multiples of 8
        groupedAgainstLoop(odd, 2, 20, 12, false, 54); // most experts empty
    }

    void decodeAgainstLoop(MoeConfig c, int tokens, int hidden, int ffn, boolean biases, long seed) {
        Batch b = batch(c, tokens, hidden, ffn, biases, seed);
        ExpertGemms g = new ExpertGemms(arena, c, b.fx.weights);
        String what = c + " decode T " + tokens + " seed " + seed;
        try (Tensor act = g.gateUpDecode(b.x, b.routing.topkIds());
             Tensor ySlots = g.downDecode(act, b.routing.topkIds(), b.routing.topkWeights())) {
            float[] actAll = act.toFloatArray(), yAll = ySlots.toFloatArray();
            for (int e = 0; e < c.experts(); e++) {
                int[] slots = slotsOf(b.ids, e);
                if (slots.length == 0) continue;
                float[] gotAct = pick(actAll, ffn, slots);
                assertRowsClose(what + ": gate_up_decode of expert " + e, loopGateUp(b, e, slots), gotAct, 1e-5);
                assertRowsClose(what + ": down_decode of expert " + e, loopDown(b, e, slots, gotAct), pick(yAll, hidden, slots), 1e-5);
            }
        } finally {
            b.routing.close();
            b.x.close();
            b.fx.close();
        }
    }

    @Test
    void decodeGemvsMatchAPerExpertLoopOfGemms() {
        MoeConfig c = MoeConfig.builder().experts(8).topK(2).normTopk(true).build();
        decodeAgainstLoop(c, 1, 32, 24, false, 61);
        decodeAgainstLoop(c, 16, 32, 24, true, 62);
        decodeAgainstLoop(MoeConfig.builder().experts(6).topK(4).activation(ExpertActivation.GEGLU).build(), 3, 20, 12, false, 63);
    }

    @Test
    void stagedPipelineEqualsTheLayerAndCombineSumsSlotsInOrder() {
        MoeConfig c = MoeConfig.builder().experts(6).topK(2).normTopk(true).path(ExpertPath.GROUPED_SIMT).build();
        int tokens = 40, h = 16, f = 24;
        Ops ops = Ops.on(arena);
        try (MoeFixture fx = new MoeFixture(arena, DType.F32, c, h, f, 71).build(new MoeFixture.Extras(false, false, 8, true));
             Tensor x = fx.input(tokens);
             MoeOutput layer = new MoeLayer(arena, c, fx.weights).forward(x)) {
            ExpertGemms g = new ExpertGemms(arena, c, fx.weights);
            try (Tensor logits = ops.gemm(x, fx.weights.router(), null, true);
                 RoutingResult r = new MoeRouter(arena, c).route(logits, null);
                 ExpertAlignment a = new MoeDispatch(arena).align(r.topkIds(), c.experts());
                 Tensor act = g.gateUp(x, a);
                 Tensor ySlots = g.down(act, a, r.topkWeights());
                 Tensor sg = ops.gemm(x, fx.weights.shared().gate(), null, true);
                 Tensor su = ops.gemm(x, fx.weights.shared().up(), null, true);
                 Tensor sa = ops.activation(sg, Activation.SILU);
                 Tensor sau = ops.mul(sa, su);
                 Tensor shared = ops.gemm(sau, fx.weights.shared().down(), null, true);
                 Tensor gate = ops.gemm(x, fx.weights.shared().router(), null, true);
                 Tensor y = g.combine(ySlots, r.topkIds(), shared, gate)) {
                float[] ys = ySlots.toFloatArray(), sh = shared.toFloatArray(), gl = gate.toFloatArray(), got = y.toFloatArray();
                double[] want = new double[tokens * h];
                for (int t = 0; t < tokens; t++) {
                    double sig = 1 / (1 + Math.exp(-gl[t]));
                    for (int i = 0; i < h; i++) {
                        double s = 0;
                        for (int j = 0; j < 2; j++) s += ys[(t * 2 + j) * h + i];
                        want[t * h + i] = s + sig * sh[t * h + i];
                    }
                }
                MoeFixture.assertClose("combine", want, got, 1e-6, 1e-6);
                double[] whole = dev.braindrip.reference.Reference.toDouble(layer.y().toFloatArray());
                MoeFixture.assertClose("staged pipeline vs MoeLayer", whole, got, 1e-6, 1e-5);
            }
        }
    }
}
