package dev.braindrip.ops;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/** Case records of the elementwise family: convert, add, mul, scale, activation, glu. */
final class ElementwiseCases {
    private ElementwiseCases() {}

    /** convert: exact round-to-nearest-even; magnitudes 2^-20..2^15 reach F16 subnormals. */
    record Convert(DType dtype, DType to, int n) implements OpCase {
        public String op() {
            return "convert";
        }

        public String params() {
            return "to " + to + " n=" + n;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            try (Tensor x = arena.fromFloats(in.logUniform(n, -20, 15), dtype, n); Tensor y = ops.convert(x, to)) {
                if (y.dtype() != to) throw new AssertionError(OpCase.ctx(this, ops) + ": output dtype " + y.dtype() + " " + Seeds.tag());
                Check.exact(OpCase.ctx(this, ops), "y", y.toFloatArray(), Reference.convert(OpCase.held(x), to));
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** add or mul over any shape. */
    record Binary(String op, DType dtype, long[] shape) implements OpCase {
        public String params() {
            return OpCase.shape(shape);
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            int n = OpCase.numel(shape);
            try (Tensor a = arena.fromFloats(in.signed(n, 0.1, 4), dtype, shape);
                 Tensor b = arena.fromFloats(in.signed(n, 0.1, 4), dtype, shape);
                 Tensor y = op.equals("add") ? ops.add(a, b) : ops.mul(a, b)) {
                double[] ref = op.equals("add") ? Reference.add(OpCase.held(a), OpCase.held(b))
                        : Reference.mul(OpCase.held(a), OpCase.held(b));
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op);
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    record Scale(DType dtype, long[] shape, float s) implements OpCase {
        public String op() {
            return "scale";
        }

        public String params() {
            return OpCase.shape(shape) + " s=" + s;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            try (Tensor x = arena.fromFloats(in.signed(OpCase.numel(shape), 0.1, 4), dtype, shape); Tensor y = ops.scale(x, s)) {
                double[] ref = Reference.scale(OpCase.held(x), s);
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /**
     * act(x) over ±[0.01, {@link #range}): both tails of GELU/SiLU and the kink of ReLU. Tensors of
     * fewer than 64 elements stay in the bulk ±2: one made only of tail values would measure the
     * relative precision of GELU's tail, where F32 1 + erf(x/√2) cancels; ops.h promises F32
     * compute, not that, and BackendOpsSuite#geluTailsAreAccurateInAbsoluteTerms pins what holds.
     */
    record Act(Activation act, DType dtype, long[] shape) implements OpCase {
        public String op() {
            return "activation";
        }

        public String params() {
            return act.cliName() + " " + OpCase.shape(shape);
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            int n = OpCase.numel(shape);
            try (Tensor x = arena.fromFloats(in.signed(n, 0.01, range(n)), dtype, shape);
                 Tensor y = ops.activation(x, act)) {
                double[] ref = Reference.activation(OpCase.held(x), act);
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** glu: x (rows, 2f) → (rows, f); gate over ±[0.01, range), up over ±[0.1, 3). */
    record GluCase(Glu glu, DType dtype, int rows, int f) implements OpCase {
        public String op() {
            return "glu";
        }

        public String params() {
            return glu.cliName() + " [" + rows + "," + 2 * f + "]";
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            try (Tensor x = arena.fromFloats(gluInput(in, rows, f), dtype, rows, 2L * f); Tensor y = ops.glu(x, glu)) {
                double[] ref = Reference.glu(OpCase.held(x), rows, f, glu);
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** Activation inputs: ±8 from 64 elements on, the bulk ±2 below (see {@link Act}). */
    static double range(int n) {
        return n >= 64 ? 8 : 2;
    }

    /** (rows, 2f): gate values in the first f columns, up values in the last f. */
    static float[] gluInput(Inputs in, int rows, int f) {
        float[] gate = in.signed(rows * f, 0.01, range(rows * f)), up = in.signed(rows * f, 0.1, 3);
        float[] x = new float[rows * 2 * f];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(gate, r * f, x, r * 2 * f, f);
            System.arraycopy(up, r * f, x, r * 2 * f + f, f);
        }
        return x;
    }
}
