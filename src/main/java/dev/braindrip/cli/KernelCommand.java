package dev.braindrip.cli;

import dev.braindrip.attention.AttentionResult;
import dev.braindrip.attention.AttentionSpec;
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
            body.run(io, arena.ops());
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
}
