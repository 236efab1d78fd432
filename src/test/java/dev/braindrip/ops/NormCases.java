package dev.braindrip.ops;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/** Case records of the norm family: rmsnorm, layernorm and their fused residual-add forms. */
final class NormCases {
    private NormCases() {}

    /** x ~ N(0.5, 1.5); weight a random sign times [0.5, 1.5); bias ~ N(0, 0.5). */
    record Rmsnorm(DType dtype, int rows, int cols, float eps, boolean residual) implements OpCase {
        public String op() {
            return residual ? "add_rmsnorm" : "rmsnorm";
        }

        public String params() {
            return "[" + rows + "," + cols + "] eps=" + eps;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            String ctx = OpCase.ctx(this, ops);
            try (Tensor x = arena.fromFloats(in.normal(rows * cols, 0.5, 1.5), dtype, rows, cols);
                 Tensor w = arena.fromFloats(in.signed(cols, 0.5, 1.5), dtype, cols)) {
                if (!residual) {
                    try (Tensor y = ops.rmsnorm(x, w, eps)) {
                        double[] ref = Reference.rmsnorm(OpCase.held(x), OpCase.held(w), rows, cols, eps);
                        Check.closeRounded(ctx, "y", y.toFloatArray(), ref, dtype, op());
                    }
                    return;
                }
                try (Tensor r = arena.fromFloats(in.normal(rows * cols, 0, 2), dtype, rows, cols);
                     NormResult out = ops.addRmsnorm(x, r, w, eps)) {
                    Reference.Fused ref = Reference.addRmsnorm(OpCase.held(x), OpCase.held(r), OpCase.held(w), rows, cols, eps, dtype);
                    Check.close(ctx, "sum", out.sum().toFloatArray(), ref.sum(), Tolerance.nmse("sum", dtype));
                    Check.closeRounded(ctx, "normed", out.normed().toFloatArray(), ref.normed(), dtype, op());
                }
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** x ~ N(2, 1): the mean matters, so a variance computed as E[x²] − E[x]² in F32 shows. */
    record Layernorm(DType dtype, int rows, int cols, float eps, boolean bias, boolean residual) implements OpCase {
        public String op() {
            return residual ? "add_layernorm" : "layernorm";
        }

        public String params() {
            return "[" + rows + "," + cols + "] eps=" + eps + (bias ? " bias" : " no-bias");
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            String ctx = OpCase.ctx(this, ops);
            try (Tensor x = arena.fromFloats(in.normal(rows * cols, 2, 1), dtype, rows, cols);
                 Tensor w = arena.fromFloats(in.signed(cols, 0.5, 1.5), dtype, cols);
                 Tensor b = bias ? arena.fromFloats(in.normal(cols, 0, 0.5), dtype, cols) : null) {
                double[] bRef = bias ? OpCase.held(b) : null;
                if (!residual) {
                    try (Tensor y = ops.layernorm(x, w, b, eps)) {
                        double[] ref = Reference.layernorm(OpCase.held(x), OpCase.held(w), bRef, rows, cols, eps);
                        Check.closeRounded(ctx, "y", y.toFloatArray(), ref, dtype, op());
                    }
                    return;
                }
                try (Tensor r = arena.fromFloats(in.normal(rows * cols, 0, 1), dtype, rows, cols);
                     NormResult out = ops.addLayernorm(x, r, w, b, eps)) {
                    Reference.Fused ref = Reference.addLayernorm(OpCase.held(x), OpCase.held(r), OpCase.held(w), bRef, rows, cols,
                            eps, dtype);
                    Check.close(ctx, "sum", out.sum().toFloatArray(), ref.sum(), Tolerance.nmse("sum", dtype));
                    Check.closeRounded(ctx, "normed", out.normed().toFloatArray(), ref.normed(), dtype, op());
                }
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }
}
