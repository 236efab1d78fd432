package dev.braindrip.cli;


import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.Routing;
import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `braindrip kernel moe` and `kernel mod-route` on the CPU: files in, files out, against the oracle; usage errors. */
class MoeKernelCommandTest {
    @TempDir
    Path dir;

    static float[] normal(SplittableRandom r, int n, double sd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (sd * Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble()));
        return v;
    }

    /** Runs the CLI, returning the exit code; stderr is captured into err. */
    static int run(StringBuilder err, String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            return Main.run(args);
        } finally {
            System.setErr(old);
            err.append(buf);
        }
    }

    @Test
    void moeWithSharedExpertMatchesTheOracle() throws Exception {
        int t = 11, h = 16, f = 8, e = 6, k = 2, fs = 12;
        SplittableRandom r = new SplittableRandom(300);
        float[] x = normal(r, t * h, 1), router = normal(r, e * h, 0.25), bias = normal(r, e, 0.5), wg = normal(r, e * f * h, 0.25),
                wu = normal(r, e * f * h, 0.25), wd = normal(r, e * h * f, 0.35), sg = normal(r, fs * h, 0.25), su = normal(r, fs * h, 0.25),
                sd = normal(r, h * fs, 0.3);
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("x", new long[] {t, h}, x).addF32("router", new long[] {e, h}, router).addF32("router_bias", new long[] {e}, bias)
                .addF32("w_gate", new long[] {e, f, h}, wg).addF32("w_up", new long[] {e, f, h}, wu).addF32("w_down", new long[] {e, h, f}, wd)
                .addF32("s_gate", new long[] {fs, h}, sg).addF32("s_up", new long[] {fs, h}, su).addF32("s_down", new long[] {h, fs}, sd).write(in);
        StringBuilder err = new StringBuilder();
        int code = run(err, "kernel", "moe", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--top-k", "2", "--routing",
                "sigmoid_grouped", "--norm-topk", "--groups", "3", "--topk-groups", "2", "--scaling", "2.5");
        assertEquals(0, code, err.toString());
        MoeConfig c = MoeConfig.builder().experts(e).topK(k).routing(Routing.SIGMOID_GROUPED).normTopk(true).groups(3).topkGroups(2).scaling(2.5f)
                .build();
        MoeReference.Weights w = new MoeReference.Weights(h, f, d(router), d(bias), d(wg), d(wu), null, null, d(wd), null, fs, d(sg), d(su), d(sd), null);
        MoeReference.Result want = MoeReference.forward(d(x), t, null, w, c);
        try (SafeTensors o = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {t, h}, o.info("y").shape());
            float[] y = o.toFloatArray("y");
            for (int i = 0; i < y.length; i++) assertEquals(want.y()[i], y[i], 1e-5 * (1 + Math.abs(want.y()[i])), "y[" + i + "]");
            assertArrayEquals(want.route().ids(), o.toIntArray("topk_ids"));
            float[] tw = o.toFloatArray("topk_weights");
            for (int i = 0; i < tw.length; i++) assertEquals(want.route().weights()[i], tw[i], 1e-6, "topk_weights[" + i + "]");
            assertArrayEquals(want.route().tokensPerExpert(), o.toIntArray("tokens_per_expert"));
            assertEquals("I32", o.info("topk_ids").dtype().name());
            assertEquals("F32", o.info("topk_weights").dtype().name());
        }
    }

    @Test
    void modRouteListsTheBestTokensInOrder() throws Exception {
        int t = 20, h = 8;
        SplittableRandom r = new SplittableRandom(301);
        float[] x = normal(r, t * h, 1), router = normal(r, h, 0.3);
        Path in = dir.resolve("mod.safetensors"), out = dir.resolve("mod-out.safetensors");
        new SafeTensorsWriter().addF32("x", new long[] {t, h}, x).addF32("router", new long[] {1, h}, router).write(in);
        StringBuilder err = new StringBuilder();
        assertEquals(0, run(err, "kernel", "mod-route", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--capacity", "0.25"), err.toString());
        double[] scores = MoeReference.modScores(d(x), d(router), t, h);
        MoeReference.ModRoute want = MoeReference.modRoute(scores, 5);
        try (SafeTensors o = SafeTensors.open(out)) {
            assertArrayEquals(want.selected(), o.toIntArray("selected"));
            float[] w = o.toFloatArray("weights");
            for (int i = 0; i < 5; i++) assertEquals(want.weights()[i], w[i], 1e-5);
        }
    }

    @Test
    void usageAndInputErrors() throws Exception {
        Path in = dir.resolve("bad.safetensors"), out = dir.resolve("bad-out.safetensors");
        new SafeTensorsWriter().addF32("x", new long[] {2, 4}, new float[8]).addF32("router", new long[] {3, 4}, new float[12]).write(in);
        StringBuilder err = new StringBuilder();
        assertEquals(2, run(err, "kernel", "moe", "--in", in.toString(), "--out", out.toString(), "--device", "cpu"), "missing --top-k is bad usage");
        assertTrue(err.toString().contains("--top-k"), err.toString());
        err.setLength(0);
        assertEquals(1, run(err, "kernel", "moe", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--top-k", "2"));
        assertTrue(err.toString().startsWith("braindrip: moe: input 'w_gate' not found"), err.toString());
        err.setLength(0);
        assertEquals(1, run(err, "kernel", "moe", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--top-k", "4"));
        assertTrue(err.toString().contains("topK (4) must be <= experts (3)"), err.toString());
        err.setLength(0);
        assertEquals(1, run(err, "kernel", "moe", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--top-k", "1", "--routing", "best"));
        assertTrue(err.toString().contains("unknown routing 'best'"), err.toString());
    }

    static double[] d(float[] v) {
        return Reference.toDouble(v);
    }
}
