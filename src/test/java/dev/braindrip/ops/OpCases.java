package dev.braindrip.ops;

import dev.braindrip.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The generated case streams, shared by the CPU and CUDA backend tests: odd shapes (1, 3, 5, 7,
 * 13, 127, 257) and a few large ones (4096 columns, 32000-entry vocabularies), every float dtype.
 */
final class OpCases {
    private OpCases() {}

    static final DType[] FLOATS = {DType.F32, DType.F16, DType.BF16};

    /** (rows, cols) of the row ops. */
    private static final int[][] ROWS = {{1, 1}, {3, 7}, {5, 13}, {7, 127}, {13, 257}, {2, 4096}};

    static Stream<OpCase> all() {
        return Stream.of(elementwise(), norms(), rows(), gemm()).flatMap(s -> s);
    }

    static Stream<OpCase> elementwise() {
        List<OpCase> cases = new ArrayList<>();
        for (DType from : FLOATS) {
            for (DType to : FLOATS) {
                for (int n : new int[] {1, 257, 4096}) cases.add(new ElementwiseCases.Convert(from, to, n));
            }
        }
        long[][] shapes = {{1}, {3}, {7}, {13, 5}, {127}, {257, 3}, {4096}, {3, 5, 7}};
        for (DType dt : FLOATS) {
            for (long[] s : shapes) {
                cases.add(new ElementwiseCases.Binary("add", dt, s));
                cases.add(new ElementwiseCases.Binary("mul", dt, s));
            }
        }
        float[] scales = {0.125f, -1.75f, 3.3f};
        long[][] scaleShapes = {{1}, {5}, {257}, {13, 127}};
        for (DType dt : FLOATS) {
            for (int i = 0; i < scaleShapes.length; i++) cases.add(new ElementwiseCases.Scale(dt, scaleShapes[i], scales[i % 3]));
        }
        long[][] actShapes = {{1}, {7}, {13, 257}, {4096}};
        for (Activation act : Activation.values()) {
            for (DType dt : FLOATS) {
                for (long[] s : actShapes) cases.add(new ElementwiseCases.Act(act, dt, s));
            }
        }
        int[][] gluShapes = {{1, 1}, {3, 7}, {5, 127}, {7, 257}, {2, 4096}};
        for (Glu glu : Glu.values()) {
            for (DType dt : FLOATS) {
                for (int[] s : gluShapes) cases.add(new ElementwiseCases.GluCase(glu, dt, s[0], s[1]));
            }
        }
        return cases.stream();
    }

    static Stream<OpCase> norms() {
        List<OpCase> cases = new ArrayList<>();
        for (DType dt : FLOATS) {
            for (int i = 0; i < ROWS.length; i++) {
                int rows = ROWS[i][0], cols = ROWS[i][1];
                float eps = i % 2 == 0 ? 1e-5f : 1e-6f;
                cases.add(new NormCases.Rmsnorm(dt, rows, cols, eps, false));
                cases.add(new NormCases.Rmsnorm(dt, rows, cols, eps, true));
                cases.add(new NormCases.Layernorm(dt, rows, cols, eps, i % 2 == 0, false));
                cases.add(new NormCases.Layernorm(dt, rows, cols, eps, i % 2 == 1, true));
            }
        }
        return cases.stream();
    }

    static Stream<OpCase> rows() {
        List<OpCase> cases = new ArrayList<>();
        int[][] softmax = {{1, 1}, {3, 7}, {5, 13}, {7, 127}, {3, 257}, {2, 4096}, {2, 32000}};
        float[] temps = {1f, 0.7f, 2.5f};
        int[][] argmax = {{1, 1}, {3, 7}, {5, 127}, {7, 257}, {2, 4096}, {3, 32000}};
        int[][] topk = {{1, 1, 1}, {3, 7, 3}, {5, 127, 7}, {7, 257, 13}, {2, 4096, 50}, {3, 32000, 40}};
        int[][] crossEntropy = {{2, 1}, {3, 7}, {6, 127}, {8, 257}, {3, 4096}, {4, 32000}};
        for (DType dt : FLOATS) {
            for (int i = 0; i < softmax.length; i++) cases.add(new RowCases.Softmax(dt, softmax[i][0], softmax[i][1], temps[i % 3]));
            cases.add(new RowCases.Embedding(dt, 1, 1, new long[] {1}, DType.I32));
            cases.add(new RowCases.Embedding(dt, 7, 13, new long[] {5}, DType.I64));
            cases.add(new RowCases.Embedding(dt, 127, 257, new long[] {3, 5}, DType.I32));
            cases.add(new RowCases.Embedding(dt, 32000, 64, new long[] {13}, DType.I64));
            for (RopeSpec.Style style : RopeSpec.Style.values()) {
                cases.add(new RowCases.Rope(dt, new long[] {1, 1, 2}, 0, style, 10000f, DType.I32));
                cases.add(new RowCases.Rope(dt, new long[] {3, 5, 64}, 0, style, 10000f, DType.I64));
                cases.add(new RowCases.Rope(dt, new long[] {5, 3, 128}, 64, style, 500000f, DType.I32));
                cases.add(new RowCases.Rope(dt, new long[] {7, 2, 96}, 32, style, 1e6f, DType.I64));
                cases.add(new RowCases.Rope(dt, new long[] {13, 1, 8}, 8, style, 10000f, DType.I32));
                cases.add(new RowCases.Rope(dt, new long[] {3, 2, 13}, 6, style, 10000f, DType.I64));
                cases.add(new RowCases.Rope(dt, new long[] {2, 3, 4, 64}, 0, style, 10000f, DType.I32));
            }
            for (int[] s : argmax) cases.add(new RowCases.Argmax(dt, s[0], s[1], RowCases.Values.RANDOM));
            for (int[] s : topk) cases.add(new RowCases.TopKCase(dt, s[0], s[1], s[2], RowCases.Values.RANDOM));
            for (int[] s : crossEntropy) cases.add(new RowCases.CrossEntropy(dt, s[0], s[1], s[1] % 2 == 0 ? DType.I64 : DType.I32));
            cases.add(new RowCases.Argmax(dt, 3, 7, RowCases.Values.TIES));
            cases.add(new RowCases.Argmax(dt, 5, 257, RowCases.Values.TIES));
            cases.add(new RowCases.Argmax(dt, 2, 4096, RowCases.Values.TIES));
            cases.add(new RowCases.Argmax(dt, 3, 13, RowCases.Values.NAN));
            cases.add(new RowCases.Argmax(dt, 2, 4096, RowCases.Values.NAN));
            cases.add(new RowCases.TopKCase(dt, 3, 13, 7, RowCases.Values.TIES));
            cases.add(new RowCases.TopKCase(dt, 5, 13, 13, RowCases.Values.TIES));
            cases.add(new RowCases.TopKCase(dt, 2, 257, 40, RowCases.Values.TIES));
            cases.add(new RowCases.TopKCase(dt, 2, 4096, 64, RowCases.Values.TIES));
        }
        return cases.stream();
    }

    static Stream<OpCase> gemm() {
        List<OpCase> cases = new ArrayList<>();
        int[][] mkn = {{1, 1, 1}, {3, 5, 7}, {7, 13, 5}, {13, 127, 3}, {5, 257, 13}, {3, 4096, 7}, {127, 13, 257}, {1, 4096, 33}, {1, 511, 1000}, {1, 64, 7}};
        for (DType dt : FLOATS) {
            for (int i = 0; i < mkn.length; i++) {
                for (boolean transB : new boolean[] {false, true}) {
                    cases.add(new GemmCase(dt, mkn[i][0], mkn[i][1], mkn[i][2], transB, i % 2 == 1));
                }
            }
        }
        return cases.stream();
    }
}
