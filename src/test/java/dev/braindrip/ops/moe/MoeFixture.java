package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Random MoE layers for tests: the weights as tensors in an arena (MoeWeights) and the very values
 * they hold as doubles (MoeReference.Weights), so the oracle sees exactly what the kernel reads.
 * Weights are N(0, 1)/√fan-in, so activations stay O(1) at any width. Seeded: the seed is part of
 * every failure message.
 */
final class MoeFixture implements AutoCloseable {
    final long seed;
    final SplittableRandom random;
    final Arena arena;
    final DType dtype;
    final MoeConfig config;
    final int hidden;
    final int ffn;
    MoeWeights weights;
    MoeReference.Weights ref;

    /** Options of {@link #build}: which optional tensors to make. */
    record Extras(boolean routerBias, boolean expertBiases, int sharedFfn, boolean sharedRouter) {
        static final Extras NONE = new Extras(false, false, 0, false);
    }

    MoeFixture(Arena arena, DType dtype, MoeConfig config, int hidden, int ffn, long seed) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        this.arena = arena;
        this.dtype = dtype;
        this.config = config;
        this.hidden = hidden;
        this.ffn = ffn;
    }

    /** Makes the weights (call once). */
    MoeFixture build(Extras x) {
        int e = config.experts(), h = hidden, f = ffn;
        boolean fused = config.gateUpLayout() != GateUpLayout.SEPARATE;
        int gateRows = fused ? 2 * f : f;
        Tensor router = weight(h, e, h);
        Tensor bias = x.routerBias() ? arena.fromFloats(normal(e, 0.5), DType.F32, e) : null;
        Tensor wGate = weight(h, e, gateRows, h);
        Tensor wUp = fused ? null : weight(h, e, f, h);
        Tensor bGate = x.expertBiases() ? weight(4, e, gateRows) : null;
        Tensor bUp = x.expertBiases() && !fused ? weight(4, e, f) : null;
        Tensor wDown = weight(f, e, h, f);
        Tensor bDown = x.expertBiases() ? weight(4, e, h) : null;
        SharedExpert shared = null;
        int fs = x.sharedFfn();
        if (fs > 0) shared = new SharedExpert(weight(h, fs, h), weight(h, fs, h), weight(fs, h, fs), x.sharedRouter() ? weight(h, 1, h) : null);
        weights = new MoeWeights(router, bias, wGate, wUp, bGate, bUp, wDown, bDown, shared);
        ref = new MoeReference.Weights(h, f, d(router), d(bias), d(wGate), d(wUp), d(bGate), d(bUp), d(wDown), d(bDown), fs,
                shared == null ? null : d(shared.gate()), shared == null ? null : d(shared.up()), shared == null ? null : d(shared.down()),
                shared == null ? null : d(shared.router()));
        return this;
    }

    /** A weight tensor of N(0, 1/fanIn) values. */
    private Tensor weight(int fanIn, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        return arena.fromFloats(normal(n, 1 / Math.sqrt(fanIn)), dtype, shape);
    }

    float[] normal(int n, double sd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (sd * gaussian(random));
        return v;
    }

    /** x (T, H) of N(0, 1). */
    Tensor input(int tokens) {
        return input(tokens, 1);
    }

    /** x (T, H) of N(0, sd²). */
    Tensor input(int tokens, double sd) {
        return arena.fromFloats(normal(tokens * hidden, sd), dtype, tokens, hidden);
    }

    static double gaussian(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** The values a tensor holds, as doubles (null for null). */
    static double[] d(Tensor t) {
        return t == null ? null : Reference.toDouble(t.toFloatArray());
    }

    /** Frees the weights. */
    @Override
    public void close() {
        if (weights == null) return;
        MoeWeights w = weights;
        SharedExpert s = w.shared();
        for (Tensor t : new Tensor[] {w.router(), w.routerBias(), w.wGate(), w.wUp(), w.bGate(), w.bUp(), w.wDown(), w.bDown(),
                s == null ? null : s.gate(), s == null ? null : s.up(), s == null ? null : s.down(), s == null ? null : s.router()}) {
            if (t != null) t.close();
        }
    }

    // ---- comparisons

    /** NaN/Inf first, then max |got − ref| ≤ atol + rtol · max|ref|; returns the max error. */
    static double assertClose(String what, double[] ref, float[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        double maxRef = 0, maxErr = 0;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            assertFalse(Float.isNaN(got[i]) || Float.isInfinite(got[i]), what + ": non-finite value " + got[i] + " at " + i);
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
            double err = Math.abs(got[i] - ref[i]);
            if (err > maxErr) {
                maxErr = err;
                worst = i;
            }
        }
        double tol = atol + rtol * maxRef;
        double errAt = maxErr;
        int at = worst;
        assertTrue(maxErr <= tol, () -> what + ": max error " + errAt + " > " + tol + " at " + at + " (expected " + ref[at] + ", got " + got[at]
                + ")");
        return maxErr;
    }

    /** Max |a − ref|. */
    static double maxError(double[] ref, float[] got) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(got[i] - ref[i]));
        return m;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }
}
