package dev.braindrip.ops;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.CudaRuntime;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link Ops} over the native kernels of one backend. Checks every argument in Java first (so
 * messages name the op and the mismatch), allocates outputs in the arena, calls the kernel, and
 * turns a non-zero status into an exception; an output is freed again if the kernel fails.
 */
final class NativeOps implements Ops {
    private final Arena arena;
    private final Kernels k;
    private final Gemm gemm;
    private final long stream = 0L; // default stream; ops on one arena are ordered
    private final AttentionOps attention;
    private final DiffAttentionOps diffAttention;
    private final SampleOps sampler;

    NativeOps(Arena arena) {
        this.arena = arena;
        boolean cuda = arena.device().isCuda();
        this.k = cuda ? Kernels.cuda() : Kernels.CPU;
        this.gemm = cuda ? new CudaGemm(arena.device().index()) : new CpuGemm();
        this.attention = new AttentionOps(arena, k, stream);
        this.diffAttention = new DiffAttentionOps(arena, k, stream);
        this.sampler = new SampleOps(arena, k, stream);
    }

    @Override
    public Arena arena() {
        return arena;
    }

    // ---- checks

    private void check(int status, String op) {
        if (status == NativeStatus.OK) return;
        if (k.isCuda()) NativeStatus.checkCuda(status, op);
        else NativeStatus.checkCpu(status, op);
    }

    // one to three tensors without a varargs array: these run on every op call (docs/perf/overhead-cpu.md)
    private void onDevice(String op, Tensor a) {
        onDevice1(op, a);
    }

    private void onDevice(String op, Tensor a, Tensor b) {
        onDevice1(op, a);
        onDevice1(op, b);
    }

    private void onDevice(String op, Tensor a, Tensor b, Tensor c) {
        onDevice1(op, a);
        onDevice1(op, b);
        onDevice1(op, c);
    }

    private void onDevice(String op, Tensor a, Tensor b, Tensor c, Tensor d) {
        onDevice(op, a, b, c);
        onDevice1(op, d);
    }

    private void onDevice1(String op, Tensor t) {
        if (t == null) return;
        t.checkOpen();
        if (t.arena() != arena && !t.device().equals(arena.device())) {
            throw new IllegalArgumentException(op + ": " + t + " is not on " + arena.device());
        }
    }

    private static void floatDType(String op, Tensor t) {
        if (!t.dtype().isFloat()) throw new IllegalArgumentException(op + ": " + t + " must be F32, F16 or BF16");
    }

    private static void sameDType(String op, Tensor a, Tensor b) {
        if (b != null && a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtype mismatch, " + a.dtype() + " and " + b.dtype());
        }
    }

    private static void indexDType(String op, Tensor t) {
        if (!t.dtype().isIndex()) throw new IllegalArgumentException(op + ": " + t + " must be I32 or I64");
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (!a.sameShape(b)) {
            throw new IllegalArgumentException(op + ": shape mismatch, " + Arrays.toString(a.shape()) + " and "
                    + Arrays.toString(b.shape()));
        }
    }

    private static void vectorOf(String op, String what, Tensor v, long n) {
        if (v.rank() != 1 || v.dim(0) != n) {
            throw new IllegalArgumentException(op + ": " + what + " must have shape [" + n + "], got "
                    + Arrays.toString(v.shape()));
        }
    }

    private static void rank(String op, Tensor t, int min) {
        if (t.rank() < min) throw new IllegalArgumentException(op + ": " + t + " must have rank >= " + min);
    }

    private static long[] withLast(long[] shape, long last) {
        long[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    private static long[] dropLast(long[] shape) {
        return Arrays.copyOf(shape, shape.length - 1);
    }

    /** Runs a kernel that fills {@code out}; frees {@code out} if it fails. */
    private Tensor run(Tensor out, String op, java.util.function.IntSupplier call) {
        try {
            check(call.getAsInt(), op);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Runs a kernel that fills two outputs; frees both if it fails. */
    private void run2(Tensor a, Tensor b, String op, java.util.function.IntSupplier call) {
        try {
            check(call.getAsInt(), op);
        } catch (RuntimeException e) {
            a.close();
            b.close();
            throw e;
        }
    }

    // ---- ops

    @Override
    public Tensor gemm(Tensor a, Tensor b, Tensor bias, boolean transB) {
        String op = "gemm";
        onDevice(op, a, b, bias);
        floatDType(op, a);
        sameDType(op, a, b);
        sameDType(op, a, bias);
        rank(op, a, 1);
        if (b.rank() != 2) throw new IllegalArgumentException(op + ": b must be 2-D, got " + Arrays.toString(b.shape()));
        long kDim = a.cols(), m = a.rows();
        long bk = transB ? b.dim(1) : b.dim(0), n = transB ? b.dim(0) : b.dim(1);
        if (bk != kDim) {
            throw new IllegalArgumentException(op + ": inner dimensions differ, a " + Arrays.toString(a.shape()) + " and b "
                    + Arrays.toString(b.shape()) + (transB ? " (transposed)" : ""));
        }
        if (bias != null) vectorOf(op, "bias", bias, n);
        for (long d : new long[] {m, n, kDim}) {
            if (d > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": dimension " + d + " exceeds the BLAS int range");
        }
        Tensor c = arena.empty(a.dtype(), withLast(a.shape(), n));
        try {
            if (bias != null && m > 0) {
                // c starts as the broadcast bias (exact: 0 + b), then the GEMM accumulates onto it,
                // so the result is rounded once, as a fused epilogue would
                c.zero();
                check(k.addBias(c.address(), bias.address(), m, n, c.dtype().code(), stream), "gemm bias");
            }
            gemm.run(arena, a, b, c, (int) m, (int) n, (int) kDim, transB, bias != null);
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    @Override
    public Tensor convert(Tensor x, DType dtype) {
        String op = "convert";
        onDevice(op, x);
        floatDType(op, x);
        if (!dtype.isFloat()) throw new IllegalArgumentException(op + ": target dtype " + dtype + " must be F32, F16 or BF16");
        Tensor y = arena.emptyLike(dtype, x);
        return run(y, op, () -> k.convert(x.address(), x.dtype().code(), y.address(), dtype.code(), x.numel(), stream));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("add", a, b, true);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary("mul", a, b, false);
    }

    private Tensor binary(String op, Tensor a, Tensor b, boolean add) {
        onDevice(op, a, b);
        floatDType(op, a);
        sameDType(op, a, b);
        sameShape(op, a, b);
        Tensor y = arena.emptyLike(a.dtype(), a);
        int dt = a.dtype().code();
        return run(y, op, () -> add ? k.add(a.address(), b.address(), y.address(), a.numel(), dt, stream)
                : k.mul(a.address(), b.address(), y.address(), a.numel(), dt, stream));
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        String op = "scale";
        onDevice(op, x);
        floatDType(op, x);
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.scale(x.address(), y.address(), x.numel(), s, x.dtype().code(), stream));
    }

    @Override
    public Tensor softcap(Tensor x, float cap) {
        String op = "softcap";
        onDevice(op, x);
        floatDType(op, x);
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.softcap(x.address(), y.address(), x.numel(), cap, x.dtype().code(), stream));
    }

    @Override
    public Tensor activation(Tensor x, Activation fn) {
        String op = "activation";
        onDevice(op, x);
        floatDType(op, x);
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.activation(x.address(), y.address(), x.numel(), fn.code(), x.dtype().code(), stream));
    }

    @Override
    public Tensor glu(Tensor x, Glu fn) {
        String op = "glu";
        onDevice(op, x);
        floatDType(op, x);
        rank(op, x, 1);
        if (x.cols() % 2 != 0) throw new IllegalArgumentException(op + ": last dimension (" + x.cols() + ") must be even (gate | up)");
        long f = x.cols() / 2;
        Tensor y = arena.empty(x.dtype(), withLast(x.shape(), f));
        return run(y, op, () -> k.glu(x.address(), y.address(), x.rows(), f, fn.code(), x.dtype().code(), stream));
    }

    @Override
    public Tensor gluClamped(Tensor x, float limit) {
        String op = "glu_clamped";
        onDevice(op, x);
        floatDType(op, x);
        rank(op, x, 1);
        if (x.cols() % 2 != 0) throw new IllegalArgumentException(op + ": last dimension (" + x.cols() + ") must be even (gate | up)");
        if (!(limit > 0)) throw new IllegalArgumentException(op + ": limit (" + limit + ") must be > 0 (+inf: no clamp)");
        long f = x.cols() / 2;
        Tensor y = arena.empty(x.dtype(), withLast(x.shape(), f));
        return run(y, op, () -> k.gluClamped(x.address(), y.address(), x.rows(), f, limit, x.dtype().code(), stream));
    }

    @Override
    public Tensor addBias(Tensor x, Tensor bias) {
        String op = "add_bias";
        onDevice(op, x, bias);
        floatDType(op, x);
        rank(op, x, 1);
        sameDType(op, x, bias);
        vectorOf(op, "bias", bias, x.cols());
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> {
            y.copyFrom(x);
            return k.addBias(y.address(), bias.address(), x.rows(), x.cols(), x.dtype().code(), stream);
        });
    }

    private static void checkNorm(String op, Tensor x, Tensor w, Tensor b, float eps) {
        floatDType(op, x);
        rank(op, x, 1);
        sameDType(op, x, w);
        sameDType(op, x, b);
        vectorOf(op, "weight", w, x.cols());
        if (b != null) vectorOf(op, "bias", b, x.cols());
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new IllegalArgumentException(op + ": eps (" + eps + ") must be >= 0");
        if (x.cols() == 0) throw new IllegalArgumentException(op + ": last dimension must be > 0");
    }

    @Override
    public Tensor rmsnorm(Tensor x, Tensor weight, float eps) {
        String op = "rmsnorm";
        onDevice(op, x, weight);
        checkNorm(op, x, weight, null, eps);
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.rmsnorm(x.address(), weight.address(), y.address(), x.rows(), x.cols(), eps,
                x.dtype().code(), stream));
    }

    @Override
    public Tensor layernorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        String op = "layernorm";
        onDevice(op, x, weight, bias);
        checkNorm(op, x, weight, bias, eps);
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.layernorm(x.address(), weight.address(), bias == null ? 0L : bias.address(), y.address(),
                x.rows(), x.cols(), eps, x.dtype().code(), stream));
    }

    @Override
    public NormResult addRmsnorm(Tensor x, Tensor residual, Tensor weight, float eps) {
        String op = "add_rmsnorm";
        onDevice(op, x, residual, weight);
        checkNorm(op, x, weight, null, eps);
        sameDType(op, x, residual);
        sameShape(op, x, residual);
        Tensor y = arena.emptyLike(x.dtype(), x);
        Tensor sum = arena.emptyLike(x.dtype(), x);
        run2(y, sum, op, () -> k.addRmsnorm(x.address(), residual.address(), weight.address(), y.address(), sum.address(), x.rows(),
                    x.cols(), eps, x.dtype().code(), stream));
        return new NormResult(y, sum);
    }

    @Override
    public NormResult addLayernorm(Tensor x, Tensor residual, Tensor weight, Tensor bias, float eps) {
        String op = "add_layernorm";
        onDevice(op, x, residual, weight, bias);
        checkNorm(op, x, weight, bias, eps);
        sameDType(op, x, residual);
        sameShape(op, x, residual);
        Tensor y = arena.emptyLike(x.dtype(), x);
        Tensor sum = arena.emptyLike(x.dtype(), x);
        run2(y, sum, op, () -> k.addLayernorm(x.address(), residual.address(), weight.address(), bias == null ? 0L : bias.address(),
                    y.address(), sum.address(), x.rows(), x.cols(), eps, x.dtype().code(), stream));
        return new NormResult(y, sum);
    }

    @Override
    public Tensor softmax(Tensor x, float temperature) {
        String op = "softmax";
        onDevice(op, x);
        floatDType(op, x);
        rank(op, x, 1);
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException(op + ": temperature (" + temperature + ") must be > 0 and finite");
        }
        if (x.cols() == 0) throw new IllegalArgumentException(op + ": last dimension must be > 0");
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.softmax(x.address(), y.address(), x.rows(), x.cols(), 1f / temperature, x.dtype().code(), stream));
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        String op = "embedding";
        onDevice(op, table, ids);
        floatDType(op, table);
        indexDType(op, ids);
        if (table.rank() != 2) throw new IllegalArgumentException(op + ": table must be (vocab, dim), got " + Arrays.toString(table.shape()));
        long[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = table.dim(1);
        Tensor y = arena.empty(table.dtype(), shape);
        return run(y, op, () -> k.embedding(table.address(), ids.address(), ids.dtype().code(), y.address(), ids.numel(),
                table.dim(0), table.dim(1), table.dtype().code(), stream));
    }

    @Override
    public Tensor rope(Tensor x, Tensor positions, RopeSpec spec) {
        String op = "rope";
        onDevice(op, x, positions);
        floatDType(op, x);
        indexDType(op, positions);
        rank(op, x, 3);
        long d = x.dim(-1), h = x.dim(-2), tokens = x.numel() / Math.max(1, h * d);
        int rot = spec.rotaryDim() == 0 ? (int) d : spec.rotaryDim();
        if (rot > d) throw new IllegalArgumentException(op + ": rotary dim (" + rot + ") exceeds head dim (" + d + ")");
        if (d % 2 != 0 && spec.rotaryDim() == 0) throw new IllegalArgumentException(op + ": head dim (" + d + ") must be even");
        if (positions.numel() != tokens) {
            throw new IllegalArgumentException(op + ": " + positions.numel() + " positions for " + tokens + " tokens of "
                    + Arrays.toString(x.shape()));
        }
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.rope(x.address(), positions.address(), positions.dtype().code(), y.address(), tokens, h, d,
                rot, spec.theta(), spec.style().code(), x.dtype().code(), stream));
    }

    @Override
    public Tensor ropeFreqs(Tensor x, Tensor positions, RopeSpec.Style style, float[] invFreq, float mscale) {
        String op = "rope";
        onDevice(op, x, positions);
        floatDType(op, x);
        indexDType(op, positions);
        rank(op, x, 3);
        if (invFreq == null || invFreq.length == 0) throw new IllegalArgumentException(op + ": empty frequency table");
        long d = x.dim(-1), h = x.dim(-2), tokens = x.numel() / Math.max(1, h * d);
        int rot = 2 * invFreq.length;
        if (rot > d) throw new IllegalArgumentException(op + ": " + invFreq.length + " frequencies rotate " + rot + " channels, more than head dim " + d);
        if (positions.numel() != tokens) {
            throw new IllegalArgumentException(op + ": " + positions.numel() + " positions for " + tokens + " tokens of "
                    + Arrays.toString(x.shape()));
        }
        float[] table = invFreq.clone();
        Tensor y = arena.emptyLike(x.dtype(), x);
        return run(y, op, () -> k.ropeFreqs(x.address(), positions.address(), positions.dtype().code(), y.address(), tokens, h, d,
                rot, table, mscale, style.code(), x.dtype().code(), stream));
    }

    @Override
    public Tensor argmax(Tensor x) {
        String op = "argmax";
        onDevice(op, x);
        floatDType(op, x);
        rank(op, x, 1);
        if (x.cols() == 0) throw new IllegalArgumentException(op + ": last dimension must be > 0");
        Tensor y = arena.empty(DType.I32, dropLast(x.shape()));
        return run(y, op, () -> k.argmax(x.address(), y.address(), x.rows(), x.cols(), x.dtype().code(), stream));
    }

    @Override
    public TopK topk(Tensor x, int kk) {
        String op = "topk";
        onDevice(op, x);
        floatDType(op, x);
        rank(op, x, 1);
        if (kk < 1 || kk > x.cols()) throw new IllegalArgumentException(op + ": k (" + kk + ") must be in [1, " + x.cols() + "]");
        Tensor values = arena.empty(DType.F32, withLast(x.shape(), kk));
        Tensor indices = arena.empty(DType.I32, withLast(x.shape(), kk));
        run2(values, indices, op, () -> k.topk(x.address(), values.address(), indices.address(), x.rows(), x.cols(), kk, x.dtype().code(), stream));
        return new TopK(values, indices);
    }

    @Override
    public Tensor crossEntropy(Tensor logits, Tensor targets) {
        String op = "cross_entropy";
        onDevice(op, logits, targets);
        floatDType(op, logits);
        indexDType(op, targets);
        rank(op, logits, 1);
        if (!Arrays.equals(dropLast(logits.shape()), targets.shape())) {
            throw new IllegalArgumentException(op + ": targets " + Arrays.toString(targets.shape()) + " must have shape "
                    + Arrays.toString(dropLast(logits.shape())));
        }
        if (logits.cols() == 0) throw new IllegalArgumentException(op + ": vocabulary dimension must be > 0");
        Tensor loss = arena.empty(DType.F32, targets.shape());
        return run(loss, op, () -> k.crossEntropy(logits.address(), targets.address(), targets.dtype().code(), loss.address(),
                logits.rows(), logits.cols(), logits.dtype().code(), stream));
    }

    @Override
    public SampleResult sample(Tensor logits, SampleBatch batch, boolean keepProcessed) {
        return sampler.sample(logits, batch, keepProcessed);
    }

    @Override
    public Tensor diffAttention(Tensor q, Tensor kk, Tensor v, Tensor subln, DiffAttentionSpec spec) {
        return diffAttention.dense(q, kk, v, subln, spec);
    }

    @Override
    public Tensor diffAttentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, Tensor subln, DiffAttentionSpec spec) {
        return diffAttention.kvCache(q, kCache, vCache, seqUsedK, subln, spec);
    }

    @Override
    public AttentionResult attention(Tensor q, Tensor kk, Tensor v, Tensor sinks, AttentionSpec spec) {
        return attention.dense(q, kk, v, sinks, spec);
    }

    @Override
    public AttentionResult attentionVarlen(Tensor q, Tensor kk, Tensor v, Tensor cuSeqlensQ, Tensor cuSeqlensK, Tensor sinks,
                                           AttentionSpec spec) {
        return attention.varlen(q, kk, v, cuSeqlensQ, cuSeqlensK, sinks, spec);
    }

    @Override
    public AttentionResult attentionBiased(Tensor q, Tensor kk, Tensor v, PositionBias bias, AttentionSpec spec) {
        return attention.dense(q, kk, v, null, spec, bias);
    }

    @Override
    public AttentionResult attentionVarlenBiased(Tensor q, Tensor kk, Tensor v, Tensor cuSeqlensQ, Tensor cuSeqlensK, PositionBias bias,
                                                 AttentionSpec spec) {
        return attention.varlen(q, kk, v, cuSeqlensQ, cuSeqlensK, null, spec, bias);
    }

    @Override
    public AttentionResult attentionKvCacheBiased(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, PositionBias bias,
                                                  AttentionSpec spec) {
        return attention.kvCache(q, kCache, vCache, seqUsedK, null, null, spec, bias);
    }

    @Override
    public AttentionResult attentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, KeyRope keyRope, Tensor sinks,
                                            AttentionSpec spec) {
        return attention.kvCache(q, kCache, vCache, seqUsedK, keyRope, sinks, spec);
    }

    @Override
    public AttentionResult sparseAttention(Tensor q, Tensor kk, Tensor v, BlockSparseLayout layout, AttentionSpec spec) {
        return attention.sparse(q, kk, v, null, layout, spec);
    }

    @Override
    public AttentionResult sparseAttentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, BlockSparseLayout layout,
                                                  AttentionSpec spec) {
        if (seqUsedK == null) throw new IllegalArgumentException("sparse-attention: a KV cache call needs seqUsedK");
        return attention.sparse(q, kCache, vCache, seqUsedK, layout, spec);
    }

    @Override
    public void synchronize() {
        if (k.isCuda()) CudaRuntime.synchronize();
    }
}
