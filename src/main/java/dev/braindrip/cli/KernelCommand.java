package dev.braindrip.cli;

import dev.braindrip.ops.moe.ExpertActivation;
import dev.braindrip.ops.moe.MixtureOfDepths;
import dev.braindrip.ops.moe.ModRoute;
import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.MoeLayer;
import dev.braindrip.ops.moe.MoeOutput;
import dev.braindrip.ops.moe.MoeWeights;
import dev.braindrip.ops.moe.Routing;
import dev.braindrip.ops.moe.SharedExpert;
import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.ops.DiffAttentionSpec;
import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.NormResult;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.ops.TopK;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * `braindrip kernel OP --in IN.safetensors --out OUT.safetensors [options]`: runs one kernel on
 * the named tensors of IN and writes the named outputs to OUT (CLI.md, "braindrip kernel").
 */
@Command(name = "kernel", mixinStandardHelpOptions = true,
        description = "Run one kernel on the tensors of a safetensors file and write its outputs to another.")
public final class KernelCommand {
    /** --in / --out plus the common options, shared by every op. */
    public static final class Files2 {
        @Option(names = "--in", required = true, paramLabel = "IN.safetensors", description = "Input tensors.")
        Path in;

        @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Output file (written atomically).")
        Path out;

        @Mixin
        CommonOptions common;
    }

    /** The body of one op: reads inputs through io, registers outputs. */
    @FunctionalInterface
    interface Body {
        void run(KernelIO io, Ops ops) throws Exception;
    }

    private static int execute(String op, Files2 f, Body body) throws Exception {
        if (!Files.isRegularFile(f.in)) throw new IllegalArgumentException(op + ": input file not found: " + f.in);
        Device device = f.common.device();
        DType dtype = f.common.dtype(device);
        try (Arena arena = Arena.on(device, Long.MAX_VALUE / 4, f.common.seed);
             KernelIO io = new KernelIO(op, f.in, arena, dtype)) {
            body.run(io, Ops.on(arena));
            io.write(f.out);
            arena.releaseAll(); // a one-shot command owns every tensor it made
        }
        return 0;
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true, description = "c = a·b (+ bias): a (M,K), b (K,N) or (N,K) with --trans-b, bias (N).")
    int gemm(@Mixin Files2 f, @Option(names = "--trans-b", description = "b is (N,K).") boolean transB) throws Exception {
        return execute("gemm", f, (io, ops) -> io.output("c", ops.gemm(io.floats("a"), io.floats("b"), io.floatsOrNull("bias"), transB)));
    }

    @Command(name = "rmsnorm", mixinStandardHelpOptions = true, description = "y = rmsnorm(x)·weight: x (N,D), weight (D).")
    int rmsnorm(@Mixin Files2 f, @Option(names = "--eps", defaultValue = "1e-6", description = "Epsilon (default ${DEFAULT-VALUE}).") float eps)
            throws Exception {
        return execute("rmsnorm", f, (io, ops) -> io.output("y", ops.rmsnorm(io.floats("x"), io.floats("weight"), eps)));
    }

    @Command(name = "layernorm", mixinStandardHelpOptions = true, description = "y = layernorm(x)·weight + bias: x (N,D), weight (D), bias (D).")
    int layernorm(@Mixin Files2 f, @Option(names = "--eps", defaultValue = "1e-5", description = "Epsilon (default ${DEFAULT-VALUE}).") float eps)
            throws Exception {
        return execute("layernorm", f, (io, ops) -> io.output("y", ops.layernorm(io.floats("x"), io.floats("weight"), io.floatsOrNull("bias"), eps)));
    }

    @Command(name = "add-rmsnorm", mixinStandardHelpOptions = true, description = "sum = x + residual; y = rmsnorm(sum)·weight.")
    int addRmsnorm(@Mixin Files2 f, @Option(names = "--eps", defaultValue = "1e-6", description = "Epsilon (default ${DEFAULT-VALUE}).") float eps)
            throws Exception {
        return execute("add-rmsnorm", f, (io, ops) -> {
            NormResult r = ops.addRmsnorm(io.floats("x"), io.floats("residual"), io.floats("weight"), eps);
            io.output("y", r.normed());
            io.output("sum", r.sum());
        });
    }

    @Command(name = "add-layernorm", mixinStandardHelpOptions = true, description = "sum = x + residual; y = layernorm(sum)·weight + bias.")
    int addLayernorm(@Mixin Files2 f, @Option(names = "--eps", defaultValue = "1e-5", description = "Epsilon (default ${DEFAULT-VALUE}).") float eps)
            throws Exception {
        return execute("add-layernorm", f, (io, ops) -> {
            NormResult r = ops.addLayernorm(io.floats("x"), io.floats("residual"), io.floats("weight"), io.floatsOrNull("bias"), eps);
            io.output("y", r.normed());
            io.output("sum", r.sum());
        });
    }

    @Command(name = "activation", mixinStandardHelpOptions = true, description = "y = fn(x) elementwise.")
    int activation(@Mixin Files2 f, @Option(names = "--fn", required = true, paramLabel = "relu|gelu|gelu_tanh|silu") String fn) throws Exception {
        Activation a = Activation.parse(fn);
        return execute("activation", f, (io, ops) -> io.output("y", ops.activation(io.floats("x"), a)));
    }

    @Command(name = "glu", mixinStandardHelpOptions = true, description = "x (N,2F): gate = first F columns, up = last F; y (N,F) = act(gate)·up.")
    int glu(@Mixin Files2 f, @Option(names = "--fn", required = true, paramLabel = "swiglu|geglu|geglu_tanh") String fn) throws Exception {
        Glu g = Glu.parse(fn);
        return execute("glu", f, (io, ops) -> io.output("y", ops.glu(io.floats("x"), g)));
    }

    @Command(name = "softmax", mixinStandardHelpOptions = true, description = "Row softmax of x (N,V) / temperature.")
    int softmax(@Mixin Files2 f, @Option(names = "--temperature", defaultValue = "1", description = "Temperature (default ${DEFAULT-VALUE}).") float t)
            throws Exception {
        return execute("softmax", f, (io, ops) -> io.output("y", ops.softmax(io.floats("x"), t)));
    }

    @Command(name = "rope", mixinStandardHelpOptions = true, description = "Rotary embedding of x (S,H,D) at positions (S).")
    int rope(@Mixin Files2 f,
             @Option(names = "--theta", defaultValue = "10000", description = "Base (default ${DEFAULT-VALUE}).") float theta,
             @Option(names = "--style", defaultValue = "half", paramLabel = "half|interleaved", description = "Pairing (default ${DEFAULT-VALUE}).") String style,
             @Option(names = "--rotary-dim", defaultValue = "0", description = "Rotated channels (default: all of D).") int rotaryDim) throws Exception {
        RopeSpec spec = new RopeSpec(theta, RopeSpec.Style.parse(style), rotaryDim);
        return execute("rope", f, (io, ops) -> {
            Tensor x = io.floats("x");
            KernelIO.expectRank("rope", "x", x, 3, "(S,H,D)");
            io.output("y", ops.rope(x, io.indices("positions"), spec));
        });
    }

    @Command(name = "cross-entropy", mixinStandardHelpOptions = true, description = "Per-row loss of logits (N,V) against targets (N).")
    int crossEntropy(@Mixin Files2 f) throws Exception {
        return execute("cross-entropy", f, (io, ops) -> io.output("loss", ops.crossEntropy(io.floats("logits"), io.indices("targets"))));
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "y = a + b (same shapes).")
    int add(@Mixin Files2 f) throws Exception {
        return execute("add", f, (io, ops) -> io.output("y", ops.add(io.floats("a"), io.floats("b"))));
    }

    @Command(name = "mul", mixinStandardHelpOptions = true, description = "y = a * b (same shapes).")
    int mul(@Mixin Files2 f) throws Exception {
        return execute("mul", f, (io, ops) -> io.output("y", ops.mul(io.floats("a"), io.floats("b"))));
    }

    @Command(name = "scale", mixinStandardHelpOptions = true, description = "y = s * x.")
    int scale(@Mixin Files2 f, @Option(names = "--scale", required = true) float s) throws Exception {
        return execute("scale", f, (io, ops) -> io.output("y", ops.scale(io.floats("x"), s)));
    }

    @Command(name = "embedding", mixinStandardHelpOptions = true, description = "y = table[ids]: table (V,D), ids (N) I32/I64.")
    int embedding(@Mixin Files2 f) throws Exception {
        return execute("embedding", f, (io, ops) -> io.output("y", ops.embedding(io.floats("table"), io.indices("ids"))));
    }

    @Command(name = "argmax", mixinStandardHelpOptions = true, description = "Row argmax of x (N,V) → indices (N) I32.")
    int argmax(@Mixin Files2 f) throws Exception {
        return execute("argmax", f, (io, ops) -> io.output("indices", ops.argmax(io.floats("x"))));
    }

    @Command(name = "topk", mixinStandardHelpOptions = true, description = "Row top-k of x (N,V) → values (N,K), indices (N,K) I32.")
    int topk(@Mixin Files2 f, @Option(names = "--k", required = true) int k) throws Exception {
        return execute("topk", f, (io, ops) -> {
            TopK r = ops.topk(io.floats("x"), k);
            io.output("values", r.values());
            io.output("indices", r.indices());
        });
    }

    @Command(name = "moe", mixinStandardHelpOptions = true,
            description = "Mixture-of-Experts layer: x (T,H), router (E,H), optional router_bias (E), w_gate (E,F,H), w_up (E,F,H), w_down (E,H,F);"
                    + " optional shared expert s_gate (Fs,H), s_up (Fs,H), s_down (H,Fs), s_router (1,H)."
                    + " Writes y (T,H), topk_ids (T,K) I32, topk_weights (T,K), tokens_per_expert (E) I32.")
    int moe(@Mixin Files2 f,
            @Option(names = "--top-k", required = true, paramLabel = "K", description = "Experts per token.") int topK,
            @Option(names = "--routing", defaultValue = "softmax_topk", paramLabel = "softmax_topk|topk_softmax|sigmoid_grouped|top1_capacity",
                    description = "Router function (default ${DEFAULT-VALUE}).") String routing,
            @Option(names = "--norm-topk", description = "Renormalise the k weights to sum 1 (softmax_topk, sigmoid_grouped).") boolean normTopk,
            @Option(names = "--groups", defaultValue = "1", paramLabel = "G", description = "Expert groups of sigmoid_grouped (default ${DEFAULT-VALUE}).") int groups,
            @Option(names = "--topk-groups", defaultValue = "1", paramLabel = "g", description = "Groups kept per token (default ${DEFAULT-VALUE}).") int topkGroups,
            @Option(names = "--scaling", defaultValue = "1", paramLabel = "S", description = "Multiplies the routing weights (default ${DEFAULT-VALUE}).") float scaling,
            @Option(names = "--capacity-factor", defaultValue = "1", paramLabel = "C", description = "top1_capacity: tokens per expert = ceil(C*T/E) (default ${DEFAULT-VALUE}).") float capacityFactor,
            @Option(names = "--act", defaultValue = "swiglu", paramLabel = "swiglu|geglu", description = "Expert activation (default ${DEFAULT-VALUE}; also geglu_tanh, gptoss-clamped).") String act)
            throws Exception {
        Routing r = Routing.parse(routing);
        ExpertActivation a = ExpertActivation.parse(act);
        return execute("moe", f, (io, ops) -> {
            Tensor router = io.floats("router");
            KernelIO.expectRank("moe", "router", router, 2, "(E,H)");
            MoeConfig config = MoeConfig.builder().experts((int) router.dim(0)).topK(topK).routing(r).normTopk(normTopk).groups(groups)
                    .topkGroups(topkGroups).scaling(scaling).capacityFactor(capacityFactor).activation(a).build();
            SharedExpert shared = io.has("s_gate") || io.has("s_up") || io.has("s_down")
                    ? new SharedExpert(io.floats("s_gate"), io.floats("s_up"), io.floats("s_down"), io.floatsOrNull("s_router")) : null;
            MoeWeights w = new MoeWeights(router, io.floatsF32OrNull("router_bias"), io.floats("w_gate"), io.floats("w_up"), null, null,
                    io.floats("w_down"), null, shared);
            MoeOutput out = new MoeLayer(ops.arena(), config, w).forward(io.floats("x"));
            io.output("y", out.y());
            io.output("topk_ids", out.topkIds());
            io.output("topk_weights", out.topkWeights());
            io.output("tokens_per_expert", out.tokensPerExpert());
        });
    }

    @Command(name = "mod-route", mixinStandardHelpOptions = true,
            description = "Mixture-of-Depths routing of one sequence: x (T,H), router (1,H); the k = ceil(C*T) best-scored tokens"
                    + " (ties -> earlier token). Writes selected (k) I32 in sequence order and weights (k), their scores.")
    int modRoute(@Mixin Files2 f,
                 @Option(names = "--capacity", defaultValue = "0.125", paramLabel = "C", description = "Fraction of tokens routed through the block (default ${DEFAULT-VALUE}).") double capacity)
            throws Exception {
        return execute("mod-route", f, (io, ops) -> {
            Tensor x = io.floats("x");
            KernelIO.expectRank("mod-route", "x", x, 2, "(T,H)");
            ModRoute r = new MixtureOfDepths(ops.arena(), io.floats("router"), capacity).route(x);
            io.output("selected", r.selected());
            io.output("weights", r.weights());
        });
    }

    @Command(name = "diff-attention", mixinStandardHelpOptions = true,
            description = "Fused differential attention (Differential Transformer): q (B,S,2H,D), k (B,S,2Hkv,D), v (B,S,Hkv,2D), subln (2D)"
                    + " -> o (B,S,H,2D) = RMSNorm((softmax(Q1 K1^T) - lambda softmax(Q2 K2^T)) V) * subln * (1 - lambda_init).")
    int diffAttention(@Mixin Files2 f,
                      @Option(names = "--lambda", required = true, paramLabel = "L", description = "The layer's lambda.") float lambda,
                      @Option(names = "--lambda-init", required = true, paramLabel = "L0",
                              description = "lambda_init (0.8 - 0.6 exp(-0.3 depth)); the output is scaled by 1 - L0.") float lambdaInit,
                      @Option(names = "--causal", description = "Causal mask, bottom-right aligned when Sq < Skv.") boolean causal,
                      @Option(names = "--eps", defaultValue = "1e-5", description = "RMSNorm epsilon (default ${DEFAULT-VALUE}).") float eps,
                      @Option(names = "--scale", paramLabel = "S", description = "Softmax scale (default 1/sqrt(D)).") Float scale) throws Exception {
        DiffAttentionSpec spec;
        try {
            AttentionSpec mask = causal ? AttentionSpec.causal() : AttentionSpec.full();
            if (scale != null) mask = mask.scale(scale);
            spec = new DiffAttentionSpec(mask, lambda, lambdaInit, eps);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: " + e.getMessage(), e); // a bad option: exit 2
        }
        DiffAttentionSpec s = spec;
        return execute("diff-attention", f, (io, ops) -> {
            Tensor q = io.floats("q"), k = io.floats("k"), v = io.floats("v"), subln = io.floats("subln");
            KernelIO.expectRank("diff-attention", "q", q, 4, "(B,S,2H,D)");
            KernelIO.expectRank("diff-attention", "k", k, 4, "(B,S,2Hkv,D)");
            KernelIO.expectRank("diff-attention", "v", v, 4, "(B,S,Hkv,2D)");
            KernelIO.expectRank("diff-attention", "subln", subln, 1, "(2D)");
            io.output("o", ops.diffAttention(q, k, v, subln, s));
        });
    }

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = "Fused attention: q (B,Sq,Hq,D), k (B,Skv,Hkv,D), v (B,Skv,Hkv,Dv), optional sinks (Hq) learned sink logits"
                    + " -> o (B,Sq,Hq,Dv), lse (B,Hq,Sq).")
    int attention(@Mixin Files2 f,
                  @Option(names = "--causal", description = "Causal mask, bottom-right aligned when Sq < Skv.") boolean causal,
                  @Option(names = "--window-left", defaultValue = "-1", paramLabel = "W",
                          description = "Keys visible before the diagonal (-1 unbounded; HF sliding_window W is W-1).") int windowLeft,
                  @Option(names = "--window-right", defaultValue = "-1", paramLabel = "W",
                          description = "Keys visible after the diagonal (-1 unbounded).") int windowRight,
                  @Option(names = "--softcap", defaultValue = "0", paramLabel = "C", description = "Scores become C*tanh(s/C) (0 = off).") float softcap,
                  @Option(names = "--scale", paramLabel = "S", description = "Softmax scale (default 1/sqrt(D)).") Float scale,
                  @Option(names = "--sink-tokens", defaultValue = "0", paramLabel = "N",
                          description = "The first N keys are always visible, besides the window.") int sinkTokens) throws Exception {
        AttentionSpec spec;
        try {
            spec = (causal ? AttentionSpec.causal() : AttentionSpec.full()).windowLeft(windowLeft).windowRight(windowRight).softcap(softcap)
                    .sinkTokens(sinkTokens);
            if (scale != null) spec = spec.scale(scale);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: " + e.getMessage(), e); // a bad option: exit 2
        }
        AttentionSpec s = spec;
        return execute("attention", f, (io, ops) -> {
            Tensor q = io.floats("q"), k = io.floats("k"), v = io.floats("v");
            KernelIO.expectRank("attention", "q", q, 4, "(B,Sq,Hq,D)");
            KernelIO.expectRank("attention", "k", k, 4, "(B,Skv,Hkv,D)");
            KernelIO.expectRank("attention", "v", v, 4, "(B,Skv,Hkv,Dv)");
            Tensor sinks = io.has("sinks") ? io.floats("sinks", DType.F32) : null;
            AttentionResult r = ops.attention(q, k, v, sinks, s);
            io.output("o", r.o());
            io.output("lse", r.lse());
        });
    }

    @Command(name = "sparse-attention", mixinStandardHelpOptions = true,
            description = "Block-sparse attention: q (B,Sq,Hq,D), k (B,Skv,Hkv,D), v (B,Skv,Hkv,Dv) and either --pattern or an input"
                    + " 'layout' U8 (Hq or 1, ceil(Skv/blk), ceil(Skv/blk)) of visible blocks (rows: query blocks of the bottom-right"
                    + " aligned position i + Skv - Sq) -> o (B,Sq,Hq,Dv), lse (B,Hq,Sq).")
    int sparseAttention(@Mixin Files2 f,
                        @Option(names = "--block", defaultValue = "64", paramLabel = "BLK",
                                description = "Tokens per block, a multiple of 64 (default ${DEFAULT-VALUE}).") int block,
                        @Option(names = "--pattern", paramLabel = "TERMS",
                                description = "Union of local:W, stride:S, vstride:S, sink:N (e.g. local:4,stride:8); an input 'layout' replaces it.")
                        String pattern,
                        @Option(names = "--causal", description = "Causal mask as well, bottom-right aligned when Sq < Skv.") boolean causal,
                        @Option(names = "--scale", paramLabel = "S", description = "Softmax scale (default 1/sqrt(D)).") Float scale)
            throws Exception {
        AttentionSpec spec;
        try {
            if (block <= 0 || block % 64 != 0) throw new IllegalArgumentException("--block (" + block + ") must be a positive multiple of 64");
            spec = causal ? AttentionSpec.causal() : AttentionSpec.full();
            if (scale != null) spec = spec.scale(scale);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: " + e.getMessage(), e); // a bad option: exit 2
        }
        AttentionSpec s = spec;
        String op = "sparse-attention";
        return execute(op, f, (io, ops) -> {
            if (!io.has("layout") && pattern == null) {
                throw new IllegalArgumentException("usage: sparse-attention needs --pattern (e.g. local:4,stride:8) or an input tensor 'layout'");
            }
            Tensor q = io.floats("q"), k = io.floats("k"), v = io.floats("v");
            KernelIO.expectRank(op, "q", q, 4, "(B,Sq,Hq,D)");
            KernelIO.expectRank(op, "k", k, 4, "(B,Skv,Hkv,D)");
            KernelIO.expectRank(op, "v", v, 4, "(B,Skv,Hkv,Dv)");
            long skv = k.dim(1), heads = q.dim(2);
            BlockSparseLayout layout;
            if (io.has("layout")) {
                Tensor l = io.bytes("layout");
                long n = BlockSparseLayout.blocksFor(skv, block);
                if (l.rank() != 3 || (l.dim(0) != 1 && l.dim(0) != heads) || l.dim(1) != n || l.dim(2) != n) {
                    throw new IllegalArgumentException(op + ": input 'layout' must be (" + heads + " or 1, " + n + ", " + n + ") for Skv = " + skv
                            + " and --block " + block + " (rows are query blocks of i + Skv - Sq), got shape " + java.util.Arrays.toString(l.shape()));
                }
                layout = BlockSparseLayout.fromTensor(l, block);
            } else {
                try {
                    layout = BlockSparseLayout.parse(pattern, block, Math.max(skv, 1));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("usage: --pattern: " + e.getMessage(), e);
                }
            }
            AttentionResult r = ops.sparseAttention(q, k, v, layout, s);
            io.output("o", r.o());
            io.output("lse", r.lse());
        });
    }
}
