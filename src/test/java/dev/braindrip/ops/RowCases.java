package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/** Case records of the row family: softmax, embedding, rope, argmax, top-k, cross-entropy. */
final class RowCases {
    private RowCases() {}

    /** Logits ~ N(0, 3), softmax of logits / temperature. */
    record Softmax(DType dtype, int rows, int cols, float temperature) implements OpCase {
        public String op() {
            return "softmax";
        }

        public String params() {
            return "[" + rows + "," + cols + "] T=" + temperature;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            try (Tensor x = arena.fromFloats(in.normal(rows * cols, 0, 3), dtype, rows, cols); Tensor y = ops.softmax(x, temperature)) {
                double[] ref = Reference.softmax(OpCase.held(x), rows, cols, temperature);
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** Gather rows of a (vocab, dim) table by ids of any shape: an exact copy. */
    record Embedding(DType dtype, int vocab, int dim, long[] idsShape, DType idsDtype) implements OpCase {
        public String op() {
            return "embedding";
        }

        public String params() {
            return "table [" + vocab + "," + dim + "] ids " + idsDtype + OpCase.shape(idsShape);
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            long[] idValues = in.ints(OpCase.numel(idsShape), 0, vocab);
            idValues[idValues.length - 1] = vocab - 1; // the last row of the table, always
            try (Tensor table = arena.fromFloats(in.normal(vocab * dim, 0, 1), dtype, vocab, dim);
                 Tensor ids = Inputs.indexTensor(arena, idsDtype, idValues, idsShape);
                 Tensor y = ops.embedding(table, ids)) {
                double[] ref = Reference.embedding(OpCase.held(table), vocab, dim, idValues);
                Check.exact(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref);
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** x: shape (..., heads, headDim), positions (...) random in [0, 4096). rotaryDim 0 = whole head. */
    record Rope(DType dtype, long[] shape, int rotaryDim, RopeSpec.Style style, float theta, DType posDtype) implements OpCase {
        public String op() {
            return "rope";
        }

        public String params() {
            return style.name().toLowerCase(java.util.Locale.ROOT) + " " + OpCase.shape(shape) + " rot=" + rotaryDim + " theta=" + theta
                    + " pos " + posDtype;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            int d = (int) shape[shape.length - 1], h = (int) shape[shape.length - 2];
            int tokens = OpCase.numel(shape) / (h * d);
            long[] posShape = java.util.Arrays.copyOf(shape, shape.length - 2);
            long[] pos = in.ints(tokens, 0, 4096);
            try (Tensor x = arena.fromFloats(in.normal(OpCase.numel(shape), 0, 1), dtype, shape);
                 Tensor p = Inputs.indexTensor(arena, posDtype, pos, posShape);
                 Tensor y = ops.rope(x, p, new RopeSpec(theta, style, rotaryDim))) {
                int rot = rotaryDim == 0 ? d : rotaryDim;
                double[] ref = Reference.rope(OpCase.held(x), pos, tokens, h, d, rot, theta, style);
                Check.closeRounded(OpCase.ctx(this, ops), "y", y.toFloatArray(), ref, dtype, op());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** How argmax/top-k inputs are drawn. */
    enum Values {
        /** N(0, 2): ties only by chance (BF16 has few values). */
        RANDOM,
        /** Integers in ±[1, 4]: ties everywhere; the contract's lower-index-first rule decides. */
        TIES,
        /** RANDOM with about 1 in 5 entries NaN, column 0 always: NaN never wins. */
        NAN
    }

    static float[] rowValues(Inputs in, int n, int cols, Values kind) {
        return switch (kind) {
            case RANDOM -> in.normal(n, 0, 2);
            case TIES -> in.ties(n, 4);
            case NAN -> {
                float[] v = in.normal(n, 0, 2);
                for (int i = 0; i < n; i++) if (i % cols == 0 || in.nextInt(5) == 0) v[i] = Float.NaN;
                yield v;
            }
        };
    }

    record Argmax(DType dtype, int rows, int cols, Values values) implements OpCase {
        public String op() {
            return "argmax";
        }

        public String params() {
            return "[" + rows + "," + cols + "] " + values.name().toLowerCase(java.util.Locale.ROOT);
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            String ctx = OpCase.ctx(this, ops);
            try (Tensor x = arena.fromFloats(rowValues(in, rows * cols, cols, values), dtype, rows, cols); Tensor y = ops.argmax(x)) {
                if (y.dtype() != DType.I32) fail(ctx + ": output dtype " + y.dtype() + ", expected I32 " + Seeds.tag());
                double[] xs = OpCase.held(x);
                int[] got = y.toIntArray(), ref = Reference.argmax(xs, rows, cols);
                for (int r = 0; r < rows; r++) {
                    if (got[r] == ref[r]) continue;
                    if (got[r] < 0 || got[r] >= cols) fail(ctx + ": row " + r + " index " + got[r] + " out of range " + Seeds.tag());
                    double g = xs[r * cols + got[r]], e = xs[r * cols + ref[r]];
                    // Equal values are allowed where ties are incidental; the TIES inputs check the contract's tie rule.
                    if (g == e && values != Values.TIES) continue;
                    fail(ctx + ": row " + r + " argmax " + got[r] + " (value " + g + "), expected " + ref[r] + " (value " + e + ")"
                            + (g == e ? ": ties go to the first index" : "") + " " + Seeds.tag());
                }
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    record TopKCase(DType dtype, int rows, int cols, int k, Values values) implements OpCase {
        public String op() {
            return "topk";
        }

        public String params() {
            return "[" + rows + "," + cols + "] k=" + k + " " + values.name().toLowerCase(java.util.Locale.ROOT);
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            String ctx = OpCase.ctx(this, ops);
            try (Tensor x = arena.fromFloats(rowValues(in, rows * cols, cols, values), dtype, rows, cols); TopK out = ops.topk(x, k)) {
                double[] xs = OpCase.held(x);
                Reference.TopK ref = Reference.topk(xs, rows, cols, k);
                float[] gotValues = out.values().toFloatArray();
                int[] gotIndices = out.indices().toIntArray();
                Check.exact(ctx, "values", gotValues, ref.values());
                for (int i = 0; i < rows * k; i++) {
                    int r = i / k, idx = gotIndices[i];
                    if (idx < 0 || idx >= cols || xs[r * cols + idx] != gotValues[i]) {
                        fail(ctx + ": indices[" + i + "] = " + idx + " does not hold values[" + i + "] = " + gotValues[i] + " " + Seeds.tag());
                    }
                    for (int j = r * k; j < i; j++) {
                        if (gotIndices[j] == idx) fail(ctx + ": row " + r + " repeats index " + idx + " " + Seeds.tag());
                    }
                }
                if (values == Values.TIES) Check.exact(ctx, "indices (ties: lower index first)", gotIndices, ref.indices());
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** Logits ~ N(0, 2); targets uniform in [0, cols), about one in four -100 (ignored: loss exactly 0). */
    record CrossEntropy(DType dtype, int rows, int cols, DType targetDtype) implements OpCase {
        public String op() {
            return "cross_entropy";
        }

        public String params() {
            return "[" + rows + "," + cols + "] targets " + targetDtype;
        }

        public void check(Ops ops, Inputs in) {
            Arena arena = ops.arena();
            String ctx = OpCase.ctx(this, ops);
            long[] targets = in.ints(rows, 0, cols);
            for (int r = 0; r < rows; r++) if (rows > 1 && in.nextInt(4) == 0) targets[r] = -100;
            try (Tensor logits = arena.fromFloats(in.normal(rows * cols, 0, 2), dtype, rows, cols);
                 Tensor t = Inputs.indexTensor(arena, targetDtype, targets, rows);
                 Tensor loss = ops.crossEntropy(logits, t)) {
                if (loss.dtype() != DType.F32) fail(ctx + ": loss dtype " + loss.dtype() + ", expected F32 " + Seeds.tag());
                float[] got = loss.toFloatArray();
                double[] ref = Reference.crossEntropy(OpCase.held(logits), targets, rows, cols);
                for (int r = 0; r < rows; r++) {
                    if (targets[r] < 0 && got[r] != 0) fail(ctx + ": row " + r + " has an ignored target but loss " + got[r] + " " + Seeds.tag());
                }
                Check.close(ctx, "loss", got, ref, Tolerance.nmse(op(), DType.F32));
            }
        }

        @Override
        public String toString() {
            return name();
        }
    }
}
