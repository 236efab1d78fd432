package dev.braindrip.bench;

import dev.braindrip.jni.MoeKernels;
import dev.braindrip.jni.NativeCpu;
import dev.braindrip.jni.NativeCuda;
import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.MoeLayer;
import dev.braindrip.ops.moe.MoeOutput;
import dev.braindrip.ops.moe.MoeRouter;
import dev.braindrip.ops.moe.MoeWeights;
import dev.braindrip.ops.moe.Routing;
import dev.braindrip.ops.moe.RoutingResult;
import dev.braindrip.ops.moe.SharedExpert;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * `braindrip bench moe`: the MoE layer (MoeLayer.forward: router GEMM, routing, grouped or decode
 * expert GEMMs, combine, shared expert) at the standard shapes of BENCHMARKS.md, and with
 * {@code --peer} the same layer as a per-expert loop of our own ops, the way an eager framework runs
 * it (Hugging Face's Mixtral block): route, read the choices back, then for each expert gather its
 * tokens (embedding), gate and up GEMMs, activation, multiply, down GEMM, and a weighted
 * scatter-add into the output.
 *
 * <p>Counting: FLOPs = 2 · T · 3 · H · (k · F + Fs) (gate, up, down of the k routed experts plus the
 * shared expert's, whose width Fs is 0 without one), reported as TFLOP/s for prefill-sized batches
 * (T > 16); bytes = the expert weights actually read (D · 3 · H · F for the D distinct experts the
 * batch touched, plus the router and shared expert) plus x and y, reported as GB/s, which is the
 * figure for decode-sized batches (T ≤ 16, where TFLOP/s is left out).
 *
 * <p>Every expert holds the same random weights (one random tile copied E times, each copy its own
 * memory): timing does not depend on the values, and this keeps set-up fast at DeepSeek-V3's 22 GB.
 */
public final class MoeBench {
    public static final String OP = "moe";

    private MoeBench() {}

    /** GPU: Mixtral, Qwen3-30B-A3B and DeepSeek-V3 at 1, 16, 128 and 4096 tokens; CPU: Mixtral-shaped at H 1024, F 3584. */
    public static List<Map<String, Object>> standardShapes(Device device) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (device.isCuda()) {
            for (int t : new int[] {1, 16, 128, 4096}) {
                out.add(OpBench.shape("model", "mixtral", "tokens", t, "hidden", 4096, "ffn", 14336, "experts", 8, "top_k", 2, "routing",
                        "softmax_topk"));
                out.add(OpBench.shape("model", "qwen3-30b-a3b", "tokens", t, "hidden", 2048, "ffn", 768, "experts", 128, "top_k", 8, "routing",
                        "softmax_topk"));
                out.add(OpBench.shape("model", "deepseek-v3", "tokens", t, "hidden", 7168, "ffn", 2048, "experts", 256, "top_k", 8, "routing",
                        "sigmoid_grouped", "groups", 8, "topk_groups", 4, "shared_ffn", 2048));
            }
        } else {
            for (int t : new int[] {1, 16, 128, 512}) {
                out.add(OpBench.shape("model", "mixtral-cpu", "tokens", t, "hidden", 1024, "ffn", 3584, "experts", 8, "top_k", 2, "routing",
                        "softmax_topk"));
            }
        }
        return out;
    }

    private static int dim(Map<String, Object> shape, String key, int dflt) {
        Object v = shape.get(key);
        if (v == null) {
            if (dflt >= 0) return dflt;
            throw new IllegalArgumentException("bench moe: missing shape option --" + key.replace('_', '-'));
        }
        int n = ((Number) v).intValue();
        if (n < (key.equals("shared_ffn") ? 0 : 1)) throw new IllegalArgumentException("bench moe: --" + key.replace('_', '-') + " (" + n + ") must be >= 1");
        return n;
    }

    /** The layer config of a shape: Mixtral/Qwen3 renormalise the k weights; DeepSeek-V3 also scales them by 2.5. */
    static MoeConfig config(Map<String, Object> shape) {
        Routing routing = Routing.parse(String.valueOf(shape.getOrDefault("routing", "softmax_topk")));
        return MoeConfig.builder().experts(dim(shape, "experts", -1)).topK(dim(shape, "top_k", -1)).routing(routing)
                .normTopk(routing == Routing.SOFTMAX_TOPK || routing == Routing.SIGMOID_GROUPED).groups(dim(shape, "groups", 1))
                .topkGroups(dim(shape, "topk_groups", 1)).scaling(routing == Routing.SIGMOID_GROUPED ? 2.5f : 1f).build();
    }

    /** Measures the layer (and the per-expert loop with {@code o.peer()}) at one shape. */
    public static BenchResult run(Map<String, Object> shape, Device device, DType dt, BenchOptions o) {
        int t = dim(shape, "tokens", -1), h = dim(shape, "hidden", -1), f = dim(shape, "ffn", -1), fs = dim(shape, "shared_ffn", 0);
        MoeConfig c = config(shape);
        int e = c.experts(), k = c.topK();
        try (Arena arena = Arena.on(device, 128L << 30)) {
            Weights w = Weights.make(arena, dt, c, h, f, fs, o.peer());
            MoeLayer layer = new MoeLayer(arena, c, w.stacked);
            long xBytes = (long) t * h * dt.bytes();
            int copies = Rotation.copies(device, xBytes);
            List<Tensor> xs = new ArrayList<>();
            for (int i = 0; i < copies; i++) xs.add(arena.uniform(dt, -1, 1, t, h));
            int touched;
            try (MoeOutput first = layer.forward(xs.get(0))) {
                touched = e - first.stats().emptyExperts();
            }
            double[] ms = Timer.time(device, Math.max(1, o.warmup()), o.repeats(), i -> layer.forward(xs.get(i % copies)).close());
            BenchResult.Peer peer = null;
            if (o.peer()) {
                PerExpertLoop loop = new PerExpertLoop(arena, c, w);
                double[] pm = Timer.time(device, 1, o.repeats(), i -> loop.forward(xs.get(i % copies)).close());
                peer = new BenchResult.Peer("per-expert loop of gemm + activation ops", Timer.median(pm));
            }
            boolean decodeSized = t <= 16;
            double flops = decodeSized ? 0 : 2.0 * t * 3.0 * h * ((double) k * f + fs);
            double weightBytes = ((double) touched * 3 * h * f + 3.0 * h * fs + (double) e * h) * dt.bytes();
            double bytes = weightBytes + 2.0 * xBytes;
            Map<String, Object> sh = new LinkedHashMap<>(shape);
            sh.put("path", layer.pathFor(t).name().toLowerCase(Locale.ROOT));
            String note = String.format(Locale.ROOT, "%d of %d experts touched; %s", touched, e,
                    decodeSized ? "decode-sized: GB/s of weights read is the figure"
                            : "TFLOP/s counts the k routed experts" + (fs > 0 ? " and the shared expert" : ""));
            BenchResult r = new BenchResult(OP, device.toString(), dt.name().toLowerCase(Locale.ROOT), sh, Timer.median(ms), ms[0], o.repeats(),
                    flops, bytes, peer, note);
            arena.releaseAll();
            return r;
        }
    }

    /** The layer's weights stacked (E, …) for MoeLayer, and one tensor per expert for the loop (when asked). */
    static final class Weights {
        MoeWeights stacked;
        Tensor[] gate;
        Tensor[] up;
        Tensor[] down;
        Tensor routerBias;

        static Weights make(Arena arena, DType dt, MoeConfig c, int h, int f, int fs, boolean perExpert) {
            Weights w = new Weights();
            int e = c.experts();
            float gh = (float) (1 / Math.sqrt(h)), gf = (float) (1 / Math.sqrt(f));
            Tensor router = arena.uniform(dt, -gh, gh, e, h);
            w.routerBias = c.routing() == Routing.SIGMOID_GROUPED ? arena.uniform(DType.F32, -0.05f, 0.05f, e) : null;
            try (Tensor gTile = arena.uniform(dt, -gh, gh, f, h);
                 Tensor uTile = arena.uniform(dt, -gh, gh, f, h);
                 Tensor dTile = arena.uniform(dt, -gf, gf, h, f)) {
                Tensor wg = stack(arena, gTile, e), wu = stack(arena, uTile, e), wd = stack(arena, dTile, e);
                SharedExpert shared = fs == 0 ? null
                        : new SharedExpert(arena.uniform(dt, -gh, gh, fs, h), arena.uniform(dt, -gh, gh, fs, h),
                                arena.uniform(dt, -(float) (1 / Math.sqrt(fs)), (float) (1 / Math.sqrt(fs)), h, fs), null);
                w.stacked = new MoeWeights(router, w.routerBias, wg, wu, null, null, wd, null, shared);
                if (perExpert) {
                    w.gate = new Tensor[e];
                    w.up = new Tensor[e];
                    w.down = new Tensor[e];
                    for (int i = 0; i < e; i++) {
                        w.gate[i] = gTile.copyTo(arena);
                        w.up[i] = uTile.copyTo(arena);
                        w.down[i] = dTile.copyTo(arena);
                    }
                }
            }
            return w;
        }

        /** (E, rows, cols) holding E copies of the (rows, cols) tile. */
        private static Tensor stack(Arena arena, Tensor tile, int experts) {
            Tensor t = arena.empty(tile.dtype(), experts, tile.dim(0), tile.dim(1));
            long bytes = tile.bytes();
            for (int i = 0; i < experts; i++) {
                long dst = t.address() + i * bytes;
                if (arena.device().isCpu()) NativeStatus.checkCpu(NativeCpu.bd_cpu_memcpy(dst, tile.address(), bytes), "memcpy");
                else NativeStatus.checkCuda(NativeCuda.bd_cuda_memcpy(dst, tile.address(), bytes), "cudaMemcpy");
            }
            return t;
        }
    }

    /** The peer: Hugging Face's eager Mixtral block, expert by expert, with our ops. */
    static final class PerExpertLoop {
        private final Arena arena;
        private final MoeConfig config;
        private final Weights w;
        private final MoeRouter router;
        private final MoeKernels kernels;

        PerExpertLoop(Arena arena, MoeConfig config, Weights w) {
            this.arena = arena;
            this.config = config;
            this.w = w;
            this.router = new MoeRouter(arena, config);
            this.kernels = MoeKernels.of(arena.device().isCuda());
        }

        Tensor forward(Tensor x) {
            Ops ops = Ops.on(arena);
            int t = (int) x.dim(0), h = (int) x.dim(1), k = config.topK();
            int[] ids;
            float[] weights;
            try (Tensor logits = router.logits(x, w.stacked.router()); RoutingResult r = router.route(logits, w.routerBias)) {
                ids = r.topkIds().toIntArray(); // the host sync an eager loop has (torch.where / nonzero)
                weights = r.topkWeights().toFloatArray();
            }
            Tensor y = w.stacked.shared() == null ? arena.zeros(x.dtype(), t, h) : w.stacked.shared().apply(ops, x, config.activation());
            for (int e = 0; e < config.experts(); e++) {
                int n = 0;
                for (int id : ids) if (id == e) n++;
                if (n == 0) continue;
                int[] rows = new int[n];
                float[] rw = new float[n];
                for (int s = 0, i = 0; s < ids.length; s++) {
                    if (ids[s] == e) {
                        rows[i] = s / k;
                        rw[i++] = weights[s];
                    }
                }
                try (Tensor idx = arena.fromInts(rows, n);
                     Tensor wt = arena.fromFloats(rw, DType.F32, n);
                     Tensor xe = ops.embedding(x, idx);
                     Tensor g = ops.gemm(xe, w.gate[e], null, true);
                     Tensor u = ops.gemm(xe, w.up[e], null, true);
                     Tensor a = ops.activation(g, config.activation().gateActivation());
                     Tensor au = ops.mul(a, u);
                     Tensor d = ops.gemm(au, w.down[e], null, true)) {
                    int st = kernels.modScatterAdd(y.address(), idx.address(), wt.address(), d.address(), n, t, h, x.dtype().code(), 0L);
                    if (st != NativeStatus.OK) {
                        if (kernels.isCuda()) NativeStatus.checkCuda(st, "index_add");
                        else NativeStatus.checkCpu(st, "index_add");
                    }
                }
            }
            return y;
        }
    }
}
