package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.jni.Kernels;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The backend tests of one device, in the manner of ggml's test-backend-ops: every generated
 * {@link OpCase} against the oracle, guard regions on the raw kernels, fused versus unfused chains,
 * and the error paths. {@link CpuBackendOpsTest} runs it on the CPU, {@link CudaBackendOpsTest}
 * on CUDA device 0.
 */
abstract class BackendOpsSuite {
    abstract Device device();

    abstract Kernels kernels();

    Arena newArena() {
        return Arena.on(device(), 4L << 30);
    }

    // ---- every op against the oracle

    private void run(OpCase c) {
        try (Arena arena = newArena()) { // closing fails if the op leaked a tensor
            c.check(Ops.on(arena), new Inputs(Seeds.forCase(c.name())));
        } catch (RuntimeException e) { // an exception from the op itself: name the case and the seed
            throw new AssertionError(c.name() + " on " + device() + ": " + e + " " + Seeds.tag(), e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.braindrip.ops.OpCases#elementwise")
    void elementwise(OpCase c) {
        run(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.braindrip.ops.OpCases#norms")
    void norms(OpCase c) {
        run(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.braindrip.ops.OpCases#rows")
    void rows(OpCase c) {
        run(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.braindrip.ops.OpCases#gemm")
    void gemm(OpCase c) {
        run(c);
    }

    // ---- guard regions

    @ParameterizedTest(name = "guard {0} {1}")
    @MethodSource("dev.braindrip.ops.GuardCases#cases")
    void guardRegionsStayUntouched(String kernel, DType dtype) {
        try (Arena arena = newArena()) {
            GuardCases.run(kernel, dtype, arena, kernels(), new Inputs(Seeds.forCase("guard " + kernel + dtype)));
        }
    }

    // ---- fused versus unfused (STYLE 13)

    static Stream<Arguments> fusedShapes() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) {
            for (int[] s : new int[][] {{3, 13}, {5, 257}, {2, 4096}}) out.add(Arguments.of(dt, s[0], s[1]));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "add_rmsnorm = add, rmsnorm {0} [{1},{2}]")
    @MethodSource("fusedShapes")
    void addRmsnormEqualsAddThenRmsnorm(DType dt, int rows, int cols) {
        String ctx = "add_rmsnorm vs add+rmsnorm " + dt + " [" + rows + "," + cols + "] on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        try (Arena arena = newArena();
             Tensor x = arena.fromFloats(in.normal(rows * cols, 0.5, 1.5), dt, rows, cols);
             Tensor r = arena.fromFloats(in.normal(rows * cols, 0, 2), dt, rows, cols);
             Tensor w = arena.fromFloats(in.signed(cols, 0.5, 1.5), dt, cols);
             NormResult fused = Ops.on(arena).addRmsnorm(x, r, w, 1e-5f);
             Tensor sum = Ops.on(arena).add(x, r);
             Tensor normed = Ops.on(arena).rmsnorm(sum, w, 1e-5f)) {
            Check.close(ctx, "sum", fused.sum().toFloatArray(), OpCase.held(sum), Tolerance.fusedVsUnfused("sum", dt));
            Check.close(ctx, "normed", fused.normed().toFloatArray(), OpCase.held(normed), Tolerance.fusedVsUnfused("add_rmsnorm", dt));
        }
    }

    @ParameterizedTest(name = "add_layernorm = add, layernorm {0} [{1},{2}]")
    @MethodSource("fusedShapes")
    void addLayernormEqualsAddThenLayernorm(DType dt, int rows, int cols) {
        String ctx = "add_layernorm vs add+layernorm " + dt + " [" + rows + "," + cols + "] on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        try (Arena arena = newArena();
             Tensor x = arena.fromFloats(in.normal(rows * cols, 2, 1), dt, rows, cols);
             Tensor r = arena.fromFloats(in.normal(rows * cols, 0, 1), dt, rows, cols);
             Tensor w = arena.fromFloats(in.signed(cols, 0.5, 1.5), dt, cols);
             Tensor b = arena.fromFloats(in.normal(cols, 0, 0.5), dt, cols);
             NormResult fused = Ops.on(arena).addLayernorm(x, r, w, b, 1e-5f);
             Tensor sum = Ops.on(arena).add(x, r);
             Tensor normed = Ops.on(arena).layernorm(sum, w, b, 1e-5f)) {
            Check.close(ctx, "sum", fused.sum().toFloatArray(), OpCase.held(sum), Tolerance.fusedVsUnfused("sum", dt));
            Check.close(ctx, "normed", fused.normed().toFloatArray(), OpCase.held(normed), Tolerance.fusedVsUnfused("add_layernorm", dt));
        }
    }

    static Stream<Arguments> gluKinds() {
        List<Arguments> out = new ArrayList<>();
        for (Glu g : Glu.values()) for (DType dt : OpCases.FLOATS) out.add(Arguments.of(g, dt));
        return out.stream();
    }

    @ParameterizedTest(name = "glu = act(gate) * up: {0} {1}")
    @MethodSource("gluKinds")
    void gluEqualsActivationOfGateTimesUp(Glu glu, DType dt) {
        int rows = 5, f = 127;
        Activation act = switch (glu) {
            case SWIGLU -> Activation.SILU;
            case GEGLU -> Activation.GELU;
            case GEGLU_TANH -> Activation.GELU_TANH;
        };
        String ctx = "glu vs activation*up " + glu.cliName() + " " + dt + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        float[] x = ElementwiseCases.gluInput(in, rows, f);
        float[] gate = new float[rows * f], up = new float[rows * f];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * 2 * f, gate, r * f, f);
            System.arraycopy(x, r * 2 * f + f, up, r * f, f);
        }
        try (Arena arena = newArena();
             Tensor xt = arena.fromFloats(x, dt, rows, 2L * f);
             Tensor g = arena.fromFloats(gate, dt, rows, f);
             Tensor u = arena.fromFloats(up, dt, rows, f);
             Tensor fused = Ops.on(arena).glu(xt, glu);
             Tensor a = Ops.on(arena).activation(g, act);
             Tensor chain = Ops.on(arena).mul(a, u)) {
            Check.close(ctx, "y", fused.toFloatArray(), OpCase.held(chain), Tolerance.fusedVsUnfused("glu", dt));
        }
    }

    static Stream<Arguments> gemmBiasKinds() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) for (boolean t : new boolean[] {false, true}) out.add(Arguments.of(dt, t));
        return out.stream();
    }

    @ParameterizedTest(name = "gemm+bias = gemm, add_bias: {0} transB={1}")
    @MethodSource("gemmBiasKinds")
    void gemmWithBiasEqualsGemmThenAddBias(DType dt, boolean transB) {
        int m = 7, k = 257, n = 13;
        String ctx = "gemm+bias vs gemm, add_bias " + dt + (transB ? " transB" : "") + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        try (Arena arena = newArena();
             Tensor a = arena.fromFloats(in.normal(m * k, 0, 1), dt, m, k);
             Tensor b = arena.fromFloats(in.normal(k * n, 0, 1), dt, transB ? new long[] {n, k} : new long[] {k, n});
             Tensor bias = arena.fromFloats(in.normal(n, 0, 1), dt, n);
             Tensor fused = Ops.on(arena).gemm(a, b, bias, transB);
             Tensor chain = Ops.on(arena).gemm(a, b, null, transB)) {
            int st = kernels().addBias(chain.address(), bias.address(), m, n, dt.code(), 0L);
            assertEquals(0, st, ctx + ": add_bias: " + kernels().lastError() + " " + Seeds.tag());
            Ops.on(arena).synchronize();
            Check.close(ctx, "c", fused.toFloatArray(), OpCase.held(chain), Tolerance.fusedVsUnfused("gemm", dt));
        }
    }

    /**
     * GELU's negative tail: the tanh form cancels in 1 + tanh, so relative precision is lost below
     * x ≈ −3 and only the absolute error stays within a few F32 ulps of |x|; the exact form is
     * computed as 0.5·x·erfc(−x/√2) and must also hold a relative error of 1e-5 there.
     */
    @Test
    void geluTailsAreAccurateInAbsoluteTerms() {
        int n = 71;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -3f - 0.1f * i; // -3 .. -10
        try (Arena arena = newArena(); Tensor xt = arena.fromFloats(x, DType.F32, n)) {
            for (Activation act : new Activation[] {Activation.GELU, Activation.GELU_TANH}) {
                try (Tensor y = Ops.on(arena).activation(xt, act)) {
                    float[] got = y.toFloatArray();
                    for (int i = 0; i < n; i++) {
                        double ref = Reference.activation(x[i], act), err = Math.abs(got[i] - ref);
                        assertTrue(err <= 4 * 0x1p-24 * Math.abs(x[i]), act.cliName() + "(" + x[i] + ") on " + device() + " = " + got[i]
                                + ", expected " + ref + ": absolute error " + err + " > 4 F32 ulps of |x|");
                        if (act == Activation.GELU) { // the erfc form keeps relative accuracy in the tail
                            assertTrue(err <= 1e-5 * Math.abs(ref), "gelu(" + x[i] + ") on " + device() + " = " + got[i]
                                    + ", expected " + ref + ": relative error " + err / Math.abs(ref) + " > 1e-5");
                        }
                    }
                }
            }
        }
    }

    // ---- error paths

    private static void throwsNaming(Class<? extends RuntimeException> type, String expected, Executable call) {
        RuntimeException e = assertThrows(type, call, "expected " + type.getSimpleName() + " \"" + expected + "\"");
        String op = expected.substring(0, expected.indexOf(':'));
        assertTrue(e.getMessage() != null && e.getMessage().startsWith(op + ":"), "message should name the op " + op + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(expected.substring(op.length() + 1).trim()),
                "message should say \"" + expected + "\": " + e.getMessage());
    }

    @Test
    void wrongShapesAndDtypesNameTheOp() {
        try (Arena arena = newArena()) {
            Ops ops = Ops.on(arena);
            Inputs in = new Inputs(Seeds.forCase("errors"));
            try (Tensor x = arena.fromFloats(in.normal(16, 0, 1), DType.F32, 2, 8);
                 Tensor x3 = arena.fromFloats(in.normal(24, 0, 1), DType.F32, 3, 8);
                 Tensor xb = arena.fromFloats(in.normal(16, 0, 1), DType.BF16, 2, 8);
                 Tensor x7 = arena.fromFloats(in.normal(14, 0, 1), DType.F32, 2, 7);
                 Tensor w8 = arena.fromFloats(in.normal(8, 0, 1), DType.F32, 8);
                 Tensor w7 = arena.fromFloats(in.normal(7, 0, 1), DType.F32, 7);
                 Tensor b7 = arena.fromFloats(in.normal(7, 0, 1), DType.F32, 7);
                 Tensor ids = arena.fromInts(new int[] {0, 1}, 2);
                 Tensor rope = arena.fromFloats(in.normal(48, 0, 1), DType.F32, 3, 2, 8);
                 Tensor pos2 = arena.fromInts(new int[] {0, 1}, 2);
                 Tensor targets3 = arena.fromInts(new int[] {0, 1, 2}, 3)) {
                int live = arena.liveTensors();
                throwsNaming(IllegalArgumentException.class, "rmsnorm: weight must have shape [8]", () -> ops.rmsnorm(x, w7, 1e-5f));
                throwsNaming(IllegalArgumentException.class, "rmsnorm: dtype mismatch", () -> ops.rmsnorm(xb, w8, 1e-5f));
                throwsNaming(IllegalArgumentException.class, "layernorm: bias must have shape [8]", () -> ops.layernorm(x, w8, b7, 1e-5f));
                throwsNaming(IllegalArgumentException.class, "layernorm: eps", () -> ops.layernorm(x, w8, null, -1f));
                throwsNaming(IllegalArgumentException.class, "add_rmsnorm: shape mismatch", () -> ops.addRmsnorm(x, x3, w8, 1e-5f));
                throwsNaming(IllegalArgumentException.class, "add_layernorm: dtype mismatch", () -> ops.addLayernorm(x, xb, w8, null, 1e-5f));
                throwsNaming(IllegalArgumentException.class, "add: shape mismatch", () -> ops.add(x, x3));
                throwsNaming(IllegalArgumentException.class, "mul: dtype mismatch", () -> ops.mul(x, xb));
                throwsNaming(IllegalArgumentException.class, "gemm: inner dimensions differ", () -> ops.gemm(x, x3, null, false));
                throwsNaming(IllegalArgumentException.class, "gemm: bias must have shape [3]", () -> ops.gemm(x, x3, w8, true));
                throwsNaming(IllegalArgumentException.class, "gemm: dtype mismatch", () -> ops.gemm(x, xb, null, true));
                throwsNaming(IllegalArgumentException.class, "glu: last dimension (7) must be even", () -> ops.glu(x7, Glu.SWIGLU));
                throwsNaming(IllegalArgumentException.class, "softmax: temperature", () -> ops.softmax(x, 0f));
                throwsNaming(IllegalArgumentException.class, "topk: k (9) must be in [1, 8]", () -> ops.topk(x, 9));
                throwsNaming(IllegalArgumentException.class, "topk: k (0) must be in [1, 8]", () -> ops.topk(x, 0));
                throwsNaming(IllegalArgumentException.class, "rope: rotary dim (16) exceeds head dim (8)",
                        () -> ops.rope(rope, ids, new RopeSpec(10000f, RopeSpec.Style.HALF, 16)));
                throwsNaming(IllegalArgumentException.class, "rope: 2 positions for 3 tokens", () -> ops.rope(rope, pos2, RopeSpec.defaults()));
                throwsNaming(IllegalArgumentException.class, "rope: ", () -> ops.rope(rope, x, RopeSpec.defaults()));
                throwsNaming(IllegalArgumentException.class, "embedding: ", () -> ops.embedding(x, w8));
                throwsNaming(IllegalArgumentException.class, "embedding: ", () -> ops.embedding(ids, ids));
                throwsNaming(IllegalArgumentException.class, "cross_entropy: targets [3] must have shape [2]",
                        () -> ops.crossEntropy(x, targets3));
                throwsNaming(IllegalArgumentException.class, "convert: target dtype I32", () -> ops.convert(x, DType.I32));
                throwsNaming(IllegalArgumentException.class, "activation: ", () -> ops.activation(ids, Activation.RELU));
                throwsNaming(IllegalArgumentException.class, "argmax: ", () -> ops.argmax(ids));
                throwsNaming(IllegalArgumentException.class, "scale: ", () -> ops.scale(ids, 2f));
                assertEquals(live, arena.liveTensors(), "a failed op must not leave an output behind");
            }
        }
    }

    @Test
    void closedTensorsThrowIllegalState() {
        try (Arena arena = newArena()) {
            Ops ops = Ops.on(arena);
            Inputs in = new Inputs(Seeds.forCase("closed"));
            Tensor closed = arena.fromFloats(in.normal(16, 0, 1), DType.F32, 2, 8);
            Tensor closedWeight = arena.fromFloats(in.normal(8, 0, 1), DType.F32, 8);
            closed.close();
            closedWeight.close();
            try (Tensor x = arena.fromFloats(in.normal(16, 0, 1), DType.F32, 2, 8);
                 Tensor w = arena.fromFloats(in.normal(8, 0, 1), DType.F32, 8);
                 Tensor b = arena.fromFloats(in.normal(64, 0, 1), DType.F32, 8, 8)) {
                Tensor closedIds = arena.fromInts(new int[] {0, 1}, 2);
                closedIds.close();
                assertThrows(IllegalStateException.class, () -> ops.add(closed, x));
                assertThrows(IllegalStateException.class, () -> ops.add(x, closed));
                assertThrows(IllegalStateException.class, () -> ops.rmsnorm(x, closedWeight, 1e-5f));
                assertThrows(IllegalStateException.class, () -> ops.gemm(x, b, closed, false));
                assertThrows(IllegalStateException.class, () -> ops.gemm(closed, b, null, false));
                assertThrows(IllegalStateException.class, () -> ops.softmax(closed, 1f));
                assertThrows(IllegalStateException.class, () -> ops.embedding(b, closedIds));
                assertThrows(IllegalStateException.class, () -> ops.topk(closed, 3));
                assertThrows(IllegalStateException.class, () -> ops.crossEntropy(closed, closedIds));
                assertThrows(IllegalStateException.class, () -> ops.convert(closed, DType.BF16));
                assertThrows(IllegalStateException.class, () -> ops.addRmsnorm(x, closed, w, 1e-5f));
                assertEquals(3, arena.liveTensors(), "a failed op must not leave an output behind");
            }
        }
    }

    @Test
    void embeddingIdOutOfRangeThrows() {
        try (Arena arena = newArena()) {
            Ops ops = Ops.on(arena);
            Inputs in = new Inputs(Seeds.forCase("embedding range"));
            try (Tensor table = arena.fromFloats(in.normal(7 * 5, 0, 1), DType.F32, 7, 5);
                 Tensor tooBig = arena.fromInts(new int[] {0, 7, 1}, 3);
                 Tensor negative = arena.fromLongs(new long[] {2, -1}, 2)) {
                throwsNaming(IllegalArgumentException.class, "embedding: ", () -> ops.embedding(table, tooBig));
                throwsNaming(IllegalArgumentException.class, "embedding: ", () -> ops.embedding(table, negative));
                assertEquals(3, arena.liveTensors(), "a failed embedding must not leave its output behind");
                assertThrows(IllegalArgumentException.class, () -> Reference.embedding(new double[35], 7, 5, new long[] {7}));
            }
        }
    }

    @Test
    void crossEntropyTargetPastVocabularyThrows() {
        try (Arena arena = newArena()) {
            Ops ops = Ops.on(arena);
            Inputs in = new Inputs(Seeds.forCase("cross_entropy range"));
            try (Tensor logits = arena.fromFloats(in.normal(3 * 11, 0, 1), DType.F32, 3, 11);
                 Tensor atV = arena.fromInts(new int[] {0, 11, -100}, 3);
                 Tensor farOut = arena.fromLongs(new long[] {1L << 40, 0, 1}, 3)) {
                throwsNaming(IllegalArgumentException.class, "cross_entropy: ", () -> ops.crossEntropy(logits, atV));
                throwsNaming(IllegalArgumentException.class, "cross_entropy: ", () -> ops.crossEntropy(logits, farOut));
                assertEquals(3, arena.liveTensors(), "a failed cross_entropy must not leave its output behind");
            }
        }
    }
}
