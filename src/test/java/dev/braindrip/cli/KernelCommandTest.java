package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.reference.Reference;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `braindrip kernel` end to end through safetensors files, against the double-precision oracle. */
class KernelCommandTest {
    @TempDir
    Path dir;

    /** Runs the CLI in-process; returns {exit code, stderr}. */
    private static Object[] run(String... args) {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Object[] {code, err.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(oldErr);
        }
    }

    @Test
    void rmsnormAgreesWithTheOracle() throws Exception {
        long seed = new SplittableRandom().nextLong();
        SplittableRandom r = new SplittableRandom(seed);
        int rows = 7, cols = 257;
        float[] x = new float[rows * cols], w = new float[cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 4 - 2);
        for (int i = 0; i < cols; i++) w[i] = (float) (r.nextDouble() * 2 - 1);
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("x", new long[] {rows, cols}, x).addF32("weight", new long[] {cols}, w).write(in);

        Object[] res = run("kernel", "rmsnorm", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--eps", "1e-5");
        assertEquals(0, res[0], "stderr: " + res[1]);
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {rows, cols}, st.info("y").shape());
            float[] y = st.toFloatArray("y");
            double[] ref = Reference.rmsnorm(toDouble(x), toDouble(w), rows, cols, 1e-5);
            double num = 0, den = 0;
            for (int i = 0; i < y.length; i++) {
                num += (y[i] - ref[i]) * (y[i] - ref[i]);
                den += ref[i] * ref[i];
            }
            assertTrue(num / den < 1e-12, "NMSE " + num / den + " (seed " + seed + ")");
        }
    }

    @Test
    void bf16ComputeStillWritesF32() throws Exception {
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addBF16("x", new long[] {2, 4}, new float[] {1, 2, 3, 4, -1, -2, -3, -4}).write(in);
        Object[] res = run("kernel", "activation", "--fn", "relu", "--in", in.toString(), "--out", out.toString(), "--device", "cpu",
                "--dtype", "bf16");
        assertEquals(0, res[0], "stderr: " + res[1]);
        try (SafeTensors st = SafeTensors.open(out)) {
            assertEquals("F32", st.info("y").dtype().name());
            assertArrayEquals(new float[] {1, 2, 3, 4, 0, 0, 0, 0}, st.toFloatArray("y"));
        }
    }

    @Test
    void errorsAreOneLineWithExitCodes() throws Exception {
        Path in = dir.resolve("in.safetensors");
        new SafeTensorsWriter().addF32("x", new long[] {2, 3}, new float[6]).addF32("weight", new long[] {4}, new float[4]).write(in);
        Path out = dir.resolve("out.safetensors");

        Object[] shape = run("kernel", "rmsnorm", "--in", in.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(1, shape[0]);
        String msg = (String) shape[1];
        assertTrue(msg.startsWith("braindrip: rmsnorm: weight must have shape [3]"), msg);
        assertEquals(1, msg.strip().lines().count(), msg);
        assertTrue(!Files.exists(out), "no output on failure");

        Object[] missing = run("kernel", "rmsnorm", "--in", dir.resolve("nope.safetensors").toString(), "--out", out.toString());
        assertEquals(1, missing[0]);
        assertTrue(((String) missing[1]).contains("not found"), (String) missing[1]);

        Object[] usage = run("kernel", "rmsnorm", "--in", in.toString());
        assertEquals(2, usage[0]);
        assertTrue(((String) usage[1]).startsWith("braindrip: "), (String) usage[1]);

        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, new byte[] {1, 2, 3});
        Object[] corrupt = run("kernel", "rmsnorm", "--in", bad.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(1, corrupt[0]);
        assertTrue(((String) corrupt[1]).contains("bad.safetensors"), (String) corrupt[1]);
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
