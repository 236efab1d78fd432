package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.jni.Kernels;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Guard-region checks on the raw {@link Kernels} surface: each kernel writes into a
 * {@link Guarded} output of an odd size; afterwards the guards must be intact, every output
 * element written, and the values must still match the oracle.
 */
final class GuardCases {
    private GuardCases() {}

    static final String[] KERNELS = {"convert", "add", "mul", "scale", "add_bias", "activation", "glu", "rmsnorm", "layernorm",
        "add_rmsnorm", "add_layernorm", "softmax", "rope_half", "rope_interleaved"};

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String kernel : KERNELS) {
            for (DType dt : OpCases.FLOATS) out.add(Arguments.of(kernel, dt));
        }
        return out.stream();
    }

    private static void ok(int status, Kernels k, String ctx) {
        if (status != 0) fail(ctx + ": status " + status + ": " + k.lastError() + " " + Seeds.tag());
    }

    /** Runs one kernel on a guarded output. */
    static void run(String kernel, DType dt, Arena arena, Kernels k, Inputs in) {
        String ctx = "guard " + kernel + " " + dt + " on " + arena.device();
        int rows = 3, cols = 13, n = 257;
        String op = kernel.startsWith("rope") ? "rope" : kernel;
        switch (kernel) {
            case "convert" -> {
                try (Tensor x = arena.fromFloats(in.normal(n, 0, 3), DType.F32, n); Guarded y = Guarded.of(arena, dt, n)) {
                    ok(k.convert(x.address(), DType.F32.code(), y.address(), dt.code(), n, 0L), k, ctx);
                    Ops.on(arena).synchronize();
                    y.assertGuardsIntact(ctx);
                    Check.exact(ctx, "output", y.values(dt), Reference.convert(OpCase.held(x), dt));
                }
            }
            case "add", "mul" -> {
                try (Tensor a = arena.fromFloats(in.signed(n, 0.1, 4), dt, n); Tensor b = arena.fromFloats(in.signed(n, 0.1, 4), dt, n);
                     Guarded y = Guarded.of(arena, dt, n)) {
                    boolean add = kernel.equals("add");
                    ok(add ? k.add(a.address(), b.address(), y.address(), n, dt.code(), 0L)
                            : k.mul(a.address(), b.address(), y.address(), n, dt.code(), 0L), k, ctx);
                    double[] ref = add ? Reference.add(OpCase.held(a), OpCase.held(b)) : Reference.mul(OpCase.held(a), OpCase.held(b));
                    finish(ctx, y, dt, ref, op, arena);
                }
            }
            case "scale" -> {
                try (Tensor x = arena.fromFloats(in.signed(n, 0.1, 4), dt, n); Guarded y = Guarded.of(arena, dt, n)) {
                    ok(k.scale(x.address(), y.address(), n, -1.75f, dt.code(), 0L), k, ctx);
                    finish(ctx, y, dt, Reference.scale(OpCase.held(x), -1.75), op, arena);
                }
            }
            case "add_bias" -> {
                float[] y0 = in.signed(rows * cols, 0.1, 4);
                try (Tensor bias = arena.fromFloats(in.signed(cols, 0.1, 4), dt, cols); Tensor held = arena.fromFloats(y0, dt, rows, cols);
                     Guarded y = Guarded.of(arena, dt, rows * cols)) {
                    y.set(y0, dt);
                    ok(k.addBias(y.address(), bias.address(), rows, cols, dt.code(), 0L), k, ctx);
                    double[] ref = Reference.addBias(OpCase.held(held), OpCase.held(bias), rows, cols);
                    finish(ctx, y, dt, ref, op, arena);
                }
            }
            case "activation" -> {
                try (Tensor x = arena.fromFloats(in.signed(n, 0.01, 8), dt, n); Guarded y = Guarded.of(arena, dt, n)) {
                    ok(k.activation(x.address(), y.address(), n, Activation.GELU.code(), dt.code(), 0L), k, ctx);
                    finish(ctx, y, dt, Reference.activation(OpCase.held(x), Activation.GELU), op, arena);
                }
            }
            case "glu" -> {
                try (Tensor x = arena.fromFloats(ElementwiseCases.gluInput(in, rows, cols), dt, rows, 2L * cols);
                     Guarded y = Guarded.of(arena, dt, rows * cols)) {
                    ok(k.glu(x.address(), y.address(), rows, cols, Glu.SWIGLU.code(), dt.code(), 0L), k, ctx);
                    finish(ctx, y, dt, Reference.glu(OpCase.held(x), rows, cols, Glu.SWIGLU), op, arena);
                }
            }
            case "rmsnorm", "layernorm" -> {
                try (Tensor x = arena.fromFloats(in.normal(rows * n, 1, 1), dt, rows, n); Tensor w = arena.fromFloats(in.signed(n, 0.5, 1.5), dt, n);
                     Tensor b = arena.fromFloats(in.normal(n, 0, 1), dt, n); Guarded y = Guarded.of(arena, dt, rows * n)) {
                    boolean rms = kernel.equals("rmsnorm");
                    ok(rms ? k.rmsnorm(x.address(), w.address(), y.address(), rows, n, 1e-5f, dt.code(), 0L)
                            : k.layernorm(x.address(), w.address(), b.address(), y.address(), rows, n, 1e-5f, dt.code(), 0L), k, ctx);
                    double[] ref = rms ? Reference.rmsnorm(OpCase.held(x), OpCase.held(w), rows, n, 1e-5f)
                            : Reference.layernorm(OpCase.held(x), OpCase.held(w), OpCase.held(b), rows, n, 1e-5f);
                    finish(ctx, y, dt, ref, op, arena);
                }
            }
            case "add_rmsnorm", "add_layernorm" -> {
                try (Tensor x = arena.fromFloats(in.normal(rows * n, 1, 1), dt, rows, n); Tensor r = arena.fromFloats(in.normal(rows * n, 0, 1), dt, rows, n);
                     Tensor w = arena.fromFloats(in.signed(n, 0.5, 1.5), dt, n); Tensor b = arena.fromFloats(in.normal(n, 0, 1), dt, n);
                     Guarded y = Guarded.of(arena, dt, rows * n); Guarded sum = Guarded.of(arena, dt, rows * n)) {
                    boolean rms = kernel.equals("add_rmsnorm");
                    ok(rms ? k.addRmsnorm(x.address(), r.address(), w.address(), y.address(), sum.address(), rows, n, 1e-5f, dt.code(), 0L)
                            : k.addLayernorm(x.address(), r.address(), w.address(), b.address(), y.address(), sum.address(), rows, n, 1e-5f,
                                    dt.code(), 0L), k, ctx);
                    Reference.Fused ref = rms ? Reference.addRmsnorm(OpCase.held(x), OpCase.held(r), OpCase.held(w), rows, n, 1e-5f, dt)
                            : Reference.addLayernorm(OpCase.held(x), OpCase.held(r), OpCase.held(w), OpCase.held(b), rows, n, 1e-5f, dt);
                    finish(ctx + " (normed)", y, dt, ref.normed(), op, arena);
                    Ops.on(arena).synchronize();
                    sum.assertGuardsIntact(ctx + " (sum)");
                    Check.close(ctx + " (sum)", "output", sum.values(dt), ref.sum(), Tolerance.nmse("sum", dt));
                }
            }
            case "softmax" -> {
                try (Tensor x = arena.fromFloats(in.normal(rows * n, 0, 3), dt, rows, n); Guarded y = Guarded.of(arena, dt, rows * n)) {
                    ok(k.softmax(x.address(), y.address(), rows, n, 1f / 0.7f, dt.code(), 0L), k, ctx);
                    finish(ctx, y, dt, Reference.softmax(OpCase.held(x), rows, n, 0.7), op, arena);
                }
            }
            case "rope_half", "rope_interleaved" -> {
                int tokens = 3, heads = 2, d = 10, rot = 6;
                RopeSpec.Style style = kernel.equals("rope_half") ? RopeSpec.Style.HALF : RopeSpec.Style.INTERLEAVED;
                long[] pos = in.ints(tokens, 0, 4096);
                try (Tensor x = arena.fromFloats(in.normal(tokens * heads * d, 0, 1), dt, tokens, heads, d);
                     Tensor p = arena.fromLongs(pos, tokens); Guarded y = Guarded.of(arena, dt, tokens * heads * d)) {
                    ok(k.rope(x.address(), p.address(), DType.I64.code(), y.address(), tokens, heads, d, rot, 10000f, style.code(), dt.code(),
                            0L), k, ctx);
                    double[] ref = Reference.rope(OpCase.held(x), pos, tokens, heads, d, rot, 10000f, style);
                    finish(ctx, y, dt, ref, op, arena);
                }
            }
            default -> throw new IllegalArgumentException(kernel);
        }
    }

    /** Waits for the device, then: guards intact, every element written and finite, values match. */
    private static void finish(String ctx, Guarded y, DType dt, double[] ref, String op, Arena arena) {
        Ops.on(arena).synchronize();
        y.assertGuardsIntact(ctx);
        Check.closeRounded(ctx, "output", y.values(dt), ref, dt, op);
    }
}
