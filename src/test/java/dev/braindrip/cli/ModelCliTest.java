package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.io.SafeTensors;
import dev.braindrip.model.Architectures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** init → inspect → forward for every architecture, through the command line (CLI.md), and its errors. */
class ModelCliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    static Stream<String> architectures() {
        return Architectures.known().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void initInspectForward(String arch) throws Exception {
        Path dir = tmp.resolve(arch);
        Run init = cli("init", "--arch", arch, "--preset", "tiny", "--seed", "3", "--out", dir.toString());
        assertEquals(0, init.code(), init.err());
        assertTrue(Files.isRegularFile(dir.resolve("config.json")) && Files.isRegularFile(dir.resolve("model.safetensors")));

        Run inspect = cli("inspect", "--model", dir.toString(), "--json");
        assertEquals(0, inspect.code(), inspect.err());
        JsonNode info = new ObjectMapper().readTree(inspect.out());
        assertEquals(arch, info.get("architecture").asText());
        assertEquals(dir.toAbsolutePath().normalize().toString(), info.get("path").asText());
        assertTrue(info.get("parameters").asLong() > 0 && info.get("active_parameters").asLong() <= info.get("parameters").asLong());
        assertEquals(info.get("layers").asInt(), info.get("layer_pattern").size());
        assertTrue(info.get("kv_bytes_per_token").get("f32").asLong() > 0);

        Path out = tmp.resolve(arch + "-out.safetensors");
        boolean seq2seq = arch.equals("t5"); // an encoder-decoder: one decoder row per source row, the output is the decoder's
        Run fwd = seq2seq
                ? cli("forward", "--model", dir.toString(), "--device", "cpu", "--tokens", "1,2,3", "--tokens", "5,6", "--decoder-tokens", "0,7,8,9",
                        "--decoder-tokens", "0,4", "--out", out.toString())
                : cli("forward", "--model", dir.toString(), "--device", "cpu", "--tokens", "1,2,3,4", "--tokens", "5,6", "--out", out.toString());
        assertEquals(0, fwd.code(), fwd.err());
        if (seq2seq) {
            Run missing = cli("forward", "--model", dir.toString(), "--device", "cpu", "--tokens", "1,2,3", "--out", out.toString());
            assertEquals(2, missing.code());
            assertTrue(missing.err().contains("--decoder-tokens"), missing.err());
            Run count = cli("forward", "--model", dir.toString(), "--device", "cpu", "--tokens", "1,2,3", "--tokens", "4", "--decoder-tokens", "0",
                    "--out", out.toString());
            assertEquals(2, count.code());
            assertTrue(count.err().contains("2 source rows but 1 --decoder-tokens rows"), count.err());
        }
        try (SafeTensors st = SafeTensors.open(out)) {
            String name = arch.equals("bert") ? "hidden" : "logits";
            long[] shape = st.info(name).shape();
            assertEquals(2, shape[0]);
            assertEquals(4, shape[1]);
            float[] v = st.toFloatArray(name);
            int w = (int) shape[2];
            double sum = 0;
            for (float x : v) {
                assertTrue(Float.isFinite(x), "non-finite output");
                sum += Math.abs(x);
            }
            assertTrue(sum > 0, "all-zero output");
            for (int i = 2 * w; i < 4 * w; i++) assertEquals(0f, v[4 * w + i], "row 1 past its length must be zero");
        }
    }

    @Test
    void everyArchitectureHasItsPresets() {
        for (String arch : Architectures.known()) {
            var a = Architectures.of(arch);
            assertTrue(a.presets().containsAll(java.util.List.of("tiny", "small")), arch + " presets " + a.presets());
            for (String p : a.presets()) {
                var c = a.preset(p);
                assertEquals(arch, c.architecture(), arch + "/" + p);
                assertTrue(c.layerCount() > 0 && c.hidden() > 0, arch + "/" + p);
            }
        }
        var c = Architectures.of("llama").preset("llama-3.2-1b");
        // Llama 3.2 1B: 16 layers of (q 2048² + k, v 2048·512 + o 2048² + 3 · 2048·8192 + 2 norms) + tied embeddings 128256·2048 + norm
        long perLayer = 2048L * 2048 * 2 + 2L * 2048 * 512 + 3L * 2048 * 8192 + 2 * 2048;
        long want = 16 * perLayer + 128256L * 2048 + 2048;
        long got = 0;
        for (var r : Architectures.of("llama").weights(c, java.util.Set.of())) {
            long n = 1;
            for (long d : r.shape()) n *= d;
            got += n;
        }
        assertEquals(want, got, "llama-3.2-1b parameters");
        assertEquals(1_235_814_400L, got);
        assertEquals(2048, c.hidden());
        assertEquals(16, c.layerCount());
        assertEquals(8, c.kvHeads());
        assertEquals(64, c.headDim());
        assertTrue(c.tieEmbeddings());
        assertEquals(dev.braindrip.model.RopeConfig.Scaling.LLAMA3, c.rope().scaling());
    }

    @Test
    void errorsAreOneLine() throws Exception {
        Run missing = cli("inspect", "--model", tmp.resolve("nope").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().startsWith("braindrip: ") && missing.err().contains("nope"), missing.err());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());

        Run badArch = cli("init", "--arch", "nosuch", "--out", tmp.resolve("x").toString());
        assertEquals(2, badArch.code());
        assertTrue(badArch.err().contains("unknown model_type 'nosuch'") && badArch.err().contains("llama"), badArch.err());

        Path dir = tmp.resolve("m");
        assertEquals(0, cli("init", "--arch", "llama", "--out", dir.toString()).code());
        Run range = cli("forward", "--model", dir.toString(), "--device", "cpu", "--tokens", "1,99999", "--out", tmp.resolve("o.st").toString());
        assertEquals(1, range.code());
        assertTrue(range.err().contains("99999") && range.err().contains("vocab size 512"), range.err());
        Run bad = cli("forward", "--model", dir.toString(), "--tokens", "1,x", "--out", tmp.resolve("o.st").toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("'x' is not a token id"), bad.err());
        Run both = cli("forward", "--model", dir.toString(), "--out", tmp.resolve("o.st").toString());
        assertEquals(2, both.code(), both.err());
    }
}
