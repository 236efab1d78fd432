package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Byte Latent Transformer on tiny random checkpoints (matrices N(0, 0.15²)), under every
 * patching rule: incremental decoding (prefill of ragged prompts, then byte steps, a slot moved in
 * between as the generation engine does) equals row t of the full forward over the whole sequence
 * at every step, and — where Hugging Face's forward is prefix-consistent (no max_patch_length) —
 * the last row of the forward over the prefix (the way the reference generates); a ragged batch
 * equals each row alone; generation over a ragged batch equals each prompt alone.
 */
class BltModelTest {
    static final double MAX_NMSE = 1e-10;

    @TempDir
    Path tmp;

    static final String TEXT = "In the beginning — naïve café ✓ 🙂, and the word was with God. ";

    /** The tiny preset with a patching rule; ENTROPY's threshold is calibrated to the median entropy of TEXT. */
    private Transformer model(String name, LatentSpec.Patching patching, double threshold, int patchSize, int maxPatch, long seed)
            throws Exception {
        ModelConfig tiny = new Blt().preset("tiny");
        LatentSpec t = tiny.latent();
        boolean calibrate = patching == LatentSpec.Patching.ENTROPY && Double.isNaN(threshold);
        LatentSpec spec = new LatentSpec(t.patcher(), t.encoder(), t.global(), t.decoder(), t.crossAttnK(), t.encoderCrossAll(),
                t.decoderCrossAll(), t.decoderGlobalHidden(), t.hashSizes(), t.hashFunctions(), t.hashVocab(), patching,
                calibrate ? t.threshold() : threshold, patchSize, maxPatch);
        Path dir = tmp.resolve(name);
        Checkpoints.writeRandom(tiny.toBuilder().latent(spec).build(), DType.F32, seed, dir, 0.15);
        Transformer m = Transformer.load(dir, Device.cpu(), DType.F32);
        if (!calibrate) return m;
        double[] e;
        try (m) {
            e = m.byteLatent().entropies(TokenBatch.of(ids(TEXT)))[0].clone();
        }
        Arrays.sort(e);
        spec = new LatentSpec(t.patcher(), t.encoder(), t.global(), t.decoder(), t.crossAttnK(), t.encoderCrossAll(), t.decoderCrossAll(),
                t.decoderGlobalHidden(), t.hashSizes(), t.hashFunctions(), t.hashVocab(), patching, e[e.length / 2], patchSize, maxPatch);
        Path dir2 = tmp.resolve(name + "-calibrated");
        Checkpoints.writeRandom(tiny.toBuilder().latent(spec).build(), DType.F32, seed, dir2, 0.15);
        return Transformer.load(dir2, Device.cpu(), DType.F32);
    }

    static int[] ids(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length + 1];
        out[0] = 1; // BOS
        for (int i = 0; i < b.length; i++) out[i + 1] = (b[i] & 0xFF) + 4;
        return out;
    }

    static float[] forward(Transformer m, int[] ids) {
        try (Tensor y = m.forward(TokenBatch.of(ids))) {
            return y.toFloatArray();
        }
    }

    static double nmse(float[] got, int gotRow, float[] want, int wantRow, int v) {
        double num = 0, den = 0;
        for (int j = 0; j < v; j++) {
            double d = got[gotRow * v + j] - want[wantRow * v + j];
            num += d * d;
            den += (double) want[wantRow * v + j] * want[wantRow * v + j];
        }
        return num / Math.max(den, 1e-30);
    }

    @Test
    void cachedDecodingEqualsTheForwardUnderEveryPatchingRule() throws Exception {
        check("entropy", model("entropy", LatentSpec.Patching.ENTROPY, Double.NaN, 0, 0, 3), true);
        check("entropy max 3", model("entropy-max", LatentSpec.Patching.ENTROPY, Double.NaN, 0, 3, 3), false);
        check("entropy rise", model("rise", LatentSpec.Patching.ENTROPY_RISE, 0.0, 0, 0, 4), true);
        check("fixed 3", model("fixed", LatentSpec.Patching.FIXED, 0, 3, 0, 5), true);
        check("space", model("space", LatentSpec.Patching.SPACE, 0, 0, 0, 6), true);
        check("ones", model("ones", LatentSpec.Patching.ONES, 0, 0, 0, 7), true);
    }

    private void check(String name, Transformer model, boolean prefixConsistent) {
        try (Transformer m = model) {
            int v = m.config().vocabSize();
            int[] full = ids(TEXT);
            int[][] seqs = {full, Arrays.copyOfRange(ids(TEXT + TEXT), 0, full.length), ids("Ruth 1:1 Now it came to pass in the days ✓")};
            int steps = 24;
            int[] promptLen = {1, 9, 17};
            float[][] want = new float[3][];
            for (int b = 0; b < 3; b++) want[b] = forward(m, Arrays.copyOf(seqs[b], promptLen[b] + steps));
            List<String> bad = new ArrayList<>();
            double worst = 0;
            int[] slot = {0, 1, 2};
            try (Session s = m.session(3, 128)) {
                int[][] prompts = new int[3][];
                for (int b = 0; b < 3; b++) prompts[b] = Arrays.copyOf(seqs[b], promptLen[b]);
                float[] pre;
                try (Tensor y = s.prefill(TokenBatch.of(prompts), 0)) {
                    pre = y.toFloatArray();
                }
                for (int b = 0; b < 3; b++) worst = Math.max(worst, record(bad, name + " prefill " + b, nmse(pre, b, want[b], promptLen[b] - 1, v)));
                List<Integer> live = new ArrayList<>(List.of(0, 1, 2));
                for (int t = 0; t < steps - 1; t++) {
                    if (t == 9) { // sequence 0 leaves; the last slot moves into its place
                        s.move(2, 0);
                        slot[2] = 0;
                        live = new ArrayList<>(List.of(2, 1));
                    }
                    int[] in = new int[live.size()];
                    for (int q : live) in[slot[q]] = seqs[q][promptLen[q] + t];
                    float[] y;
                    try (Tensor lt = s.step(in)) {
                        y = lt.toFloatArray();
                    }
                    for (int q : live) {
                        int row = promptLen[q] + t;
                        worst = Math.max(worst, record(bad, name + " step " + t + " seq " + q, nmse(y, slot[q], want[q], row, v)));
                        if (prefixConsistent && t % 5 == 0) {
                            float[] prefix = forward(m, Arrays.copyOf(seqs[q], row + 1));
                            record(bad, name + " step " + t + " seq " + q + " vs the prefix forward", nmse(y, slot[q], prefix, row, v));
                        }
                    }
                }
            }
            System.out.printf("  blt %s: cached vs full forward worst NMSE %.2e%n", name, worst);
            assertTrue(bad.isEmpty(), String.join("\n", bad));
        }
    }

    private static double record(List<String> bad, String what, double e) {
        if (!(e <= MAX_NMSE)) bad.add(what + ": NMSE " + e);
        return e;
    }

    /** FLOPs per byte of the tiny preset, recounted here from its dimensions (an independent tally of the same rule). */
    @Test
    void flopsPerByteRecount() {
        ModelConfig c = new Blt().preset("tiny");
        LatentSpec l = c.latent();
        // tiny: patcher 32x2 (f 64), encoder 32x1, decoder 32x2, global 64x2 (f 128), MHA everywhere, k = 2, cross before every decoder layer
        double layer32 = 4 * 32 * 32 + 3 * 32 * 64, layer64 = 4 * 64 * 64 + 3 * 64 * 128;
        double perByte = 2 * layer32 + 260 * 32          // patcher layers + head
                + 1 * layer32 + 2 * layer32 + 260 * 32      // encoder, decoder, lm_head
                + 2 * (2 * 32 * 32)                         // decoder cross q, o (2 layers)
                + 2 * 32 * 32;                              // encoder cross k, v over bytes
        double perPatch = 2 * layer64 + 64 * 64             // global layers + token projection (2x32 = 64 = global: none) -> see below
                + 32 * 64 + 64 * 64                          // encoder patch projection (64, 32), decoder patch projection (64, 64)
                + 2 * (2 * 32 * 32)                          // encoder cross q, o on k slots
                + 2 * 2 * (2 * 32 * 32);                     // decoder cross k, v on k slots, 2 layers
        if (!l.tokenProjection()) perPatch -= 64 * 64;
        double ctx = 1024, patch = 4;
        double attn = 4.0 * 2 * 32 * ctx / 2 + 4.0 * (1 * 32 + 2 * 32) * ctx / 2 + 4.0 * 2 * 32 * 2;
        double globalAttn = 4.0 * 2 * 64 * (ctx / patch) / 2 + 4.0 * 2 * 32 * patch;
        double want = 2 * perByte + attn + (2 * perPatch + globalAttn) / patch;
        double got = Checkpoints.flopsPerByte(c, new Blt().weights(c, new java.util.HashSet<>()), patch, 1024);
        assertEquals(want, got, 1e-6 * want);
        // the token model of the global's shape pays its 128256-token head per token
        double token = Checkpoints.tokenModelFlopsPerByte(c, 4.4, 1024, 128256);
        assertEquals((2 * (2 * layer64 + 128256 * 64.0) + 4.0 * 2 * 64 * (1024 / 4.4) / 2) / 4.4, token, 1e-6 * token);
    }

    @Test
    void configRoundTripsAndBadConfigsAreRefused() {
        Blt arch = new Blt();
        for (String p : arch.presets()) {
            ModelConfig c = arch.preset(p);
            assertEquals(c, arch.config(new HfConfig(arch.hfConfig(c), null)), p);
        }
        ModelConfig b1 = arch.preset("blt-1b");
        assertEquals(2048, b1.latent().global().hidden());
        assertEquals(25, b1.latent().global().layers());
        assertEquals(10000.0, b1.latent().patcher().theta());
        assertEquals(500000.0, b1.latent().encoder().theta());
        assertEquals(3_000_012L * 1024, b1.latent().hashRows() * b1.latent().encoder().hidden());
        LatentSpec t = arch.preset("tiny").latent();
        for (LatentSpec.Patching p : new LatentSpec.Patching[] {LatentSpec.Patching.ENTROPY_RISE, LatentSpec.Patching.FIXED, LatentSpec.Patching.SPACE}) {
            LatentSpec own = new LatentSpec(t.patcher(), t.encoder(), t.global(), t.decoder(), t.crossAttnK(), t.encoderCrossAll(), t.decoderCrossAll(),
                    t.decoderGlobalHidden(), t.hashSizes(), t.hashFunctions(), t.hashVocab(), p, 0.25, 3, 0);
            ModelConfig c = arch.preset("tiny").toBuilder().latent(own).build();
            com.fasterxml.jackson.databind.node.ObjectNode j = arch.hfConfig(c);
            assertTrue(j.has("braindrip_patching"), p + ": our own rule goes under our own key");
            assertEquals(c, arch.config(new HfConfig(j, null)), p.name());
        }
        com.fasterxml.jackson.databind.node.ObjectNode bad = arch.hfConfig(arch.preset("tiny"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) bad.get("decoder_config")).put("hidden_size", 48).put("num_attention_heads", 2);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(bad, null)));
        assertTrue(e.getMessage().contains("must equal decoder hidden"), e.getMessage());
        com.fasterxml.jackson.databind.node.ObjectNode mode = arch.hfConfig(arch.preset("tiny")).put("braindrip_patching", "bpe");
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(mode, null)));
        assertTrue(e.getMessage().contains("braindrip_patching 'bpe'"), e.getMessage());
        com.fasterxml.jackson.databind.node.ObjectNode nullSize = arch.hfConfig(arch.preset("tiny")).putNull("patch_size");
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(nullSize, null)));
        assertTrue(e.getMessage().contains("patch_size null"), e.getMessage());
        // Hugging Face's own byte mode: one byte per patch
        assertEquals(LatentSpec.Patching.ONES, arch.config(new HfConfig(arch.hfConfig(arch.preset("tiny")).put("patching_mode", "space"), null))
                .latent().patching());
    }

    /** Both threshold rules on synthetic entropies, worked by hand (HF's global threshold; the paper's entropy rise), with max_patch_length. */
    @Test
    void patchRulesByHand() {
        LatentSpec t = new Blt().preset("tiny").latent();
        double[] e = {1.0, 2.0, 1.5, 2.6, 2.7, 1.0, 3.0};
        int[] ids = new int[e.length];
        java.util.Arrays.fill(ids, 'a' + 4);
        java.util.function.BiFunction<LatentSpec.Patching, double[], LatentSpec> spec = (p, thrMax) -> new LatentSpec(t.patcher(), t.encoder(),
                t.global(), t.decoder(), t.crossAttnK(), t.encoderCrossAll(), t.decoderCrossAll(), t.decoderGlobalHidden(), t.hashSizes(),
                t.hashFunctions(), t.hashVocab(), p, thrMax[0], 0, (int) thrMax[1]);
        // global threshold 1.9: byte t >= 2 starts iff e[t-1] > 1.9 -> starts 0, 1, 2, 4, 5 and 7 = S (an empty last patch)
        assertArrayEquals(new int[] {1, 1, 2, 1, 2, 0}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY, new double[] {1.9, 0}), ids, e));
        // strictly greater: at 2.6 only e[4] = 2.7 and e[6] = 3.0 pass (e[3] = 2.6 does not) -> starts 0, 1, 5 and 7
        assertArrayEquals(new int[] {1, 4, 2, 0}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY, new double[] {2.6, 0}), ids, e));
        // entropy rise 0.5: byte t >= 2 starts iff e[t-1] - e[t-2] > 0.5 -> starts 0, 1, 2, 4 and 7
        assertArrayEquals(new int[] {1, 1, 2, 3, 0}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY_RISE, new double[] {0.5, 0}), ids, e));
        // max_patch_length 2 splits 3 into 2 + 1 and drops the empty last patch
        assertArrayEquals(new int[] {1, 1, 2, 2, 1}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY_RISE, new double[] {0.5, 2}), ids, e));
        // one byte: [1, 0] (byte 1 always starts a patch), or [1] with a maximum
        assertArrayEquals(new int[] {1, 0}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY, new double[] {1.9, 0}), new int[] {1}, new double[] {0.3}));
        assertArrayEquals(new int[] {1}, ByteLatent.patchLengths(spec.apply(LatentSpec.Patching.ENTROPY, new double[] {1.9, 4}), new int[] {1}, new double[] {0.3}));
    }

    /** The hash is wrapping int64 then floor-mod: differs from exact (BigInteger) arithmetic, and is never negative. */
    @Test
    void hashRowsWrapLikeTorch() {
        int[] ids = {1, 259, 259, 259, 259, 259, 259, 259, 259};
        long[][] rows = ByteLatent.hashRows(ids, List.of(3, 8), 2, 500002);
        java.math.BigInteger vocab = java.math.BigInteger.valueOf(500002);
        boolean differs = false;
        for (int f = 0; f < 2; f++) {
            for (int s = 0; s < 2; s++) {
                int n = s == 0 ? 3 : 8, e = f * 2 + s;
                long prime = ByteLatent.PRIMES[f];
                for (int t = 0; t < ids.length; t++) {
                    long wrap = 0, pw = 1;
                    java.math.BigInteger exact = java.math.BigInteger.ZERO, bp = java.math.BigInteger.ONE;
                    for (int i = 0; i < n; i++) {
                        int at = t - n + 1 + i;
                        long id = at < 0 ? 0 : ids[at];
                        wrap += id * pw;
                        exact = exact.add(bp.multiply(java.math.BigInteger.valueOf(id)));
                        pw *= prime;
                        bp = bp.multiply(java.math.BigInteger.valueOf(prime));
                    }
                    long row = rows[e][t] - (long) e * 500002;
                    assertEquals(Math.floorMod(wrap, 500002L), row, "f " + f + " n " + n + " t " + t);
                    assertTrue(row >= 0 && row < 500002);
                    differs |= exact.mod(vocab).longValue() != row;
                }
            }
        }
        assertTrue(differs, "some 8-gram must overflow int64, where wrapping and exact arithmetic differ");
    }

    /** Our patching and hash rows on the Hugging Face fixtures: exactly the patch lengths and hash rows transformers computed. */
    @Test
    void patchesAndHashesMatchTheFixtures() throws Exception {
        for (String name : List.of("blt", "blt-maxpatch")) {
            dev.braindrip.testing.SafeTensorsFile f = new dev.braindrip.testing.SafeTensorsFile(Fixtures.dir(name).resolve("expected.safetensors"));
            try (Transformer m = Fixtures.load(name, Device.cpu(), DType.F32)) {
                LatentSpec l = m.config().latent();
                for (int r = 0; r < 3; r++) {
                    double[] t = f.get("tokens_" + r);
                    int[] ids = new int[t.length];
                    for (int i = 0; i < t.length; i++) ids[i] = (int) t[i];
                    double[] want = f.get("patch_lengths_" + r);
                    int[] got = m.patchLengths(ids);
                    assertEquals(want.length, got.length, name + " row " + r + " patches " + Arrays.toString(got));
                    for (int i = 0; i < got.length; i++) assertEquals((int) want[i], got[i], name + " row " + r + " patch " + i);
                    long[][] rows = ByteLatent.hashRows(ids, l.hashSizes(), l.hashFunctions(), l.hashVocab());
                    double[] hr = f.get("hash_rows_" + r); // (S, groups)
                    int groups = rows.length;
                    for (int i = 0; i < ids.length; i++) {
                        for (int e = 0; e < groups; e++) assertEquals((long) hr[i * groups + e], rows[e][i], name + " row " + r + " byte " + i + " hash " + e);
                    }
                }
            }
        }
    }

    @Test
    void raggedBatchEqualsEachRowAlone() throws Exception {
        try (Transformer m = model("batch", LatentSpec.Patching.ENTROPY, Double.NaN, 0, 0, 8)) {
            int v = m.config().vocabSize();
            int[][] rows = {ids(TEXT), ids("a"), new int[] {1}, ids("✓✓ 🙂 x")};
            TokenBatch b = TokenBatch.of(rows);
            float[] all;
            try (Tensor y = m.forward(b)) {
                all = y.toFloatArray();
            }
            for (int r = 0; r < rows.length; r++) {
                float[] alone = forward(m, rows[r]);
                for (int i = 0; i < rows[r].length; i++) {
                    double e = nmse(all, b.offset(r) + i, alone, i, v);
                    assertTrue(e <= MAX_NMSE, "row " + r + " byte " + i + ": NMSE " + e);
                }
            }
        }
    }

    @Test
    void generationOnARaggedBatchEqualsEachAlone() throws Exception {
        try (Transformer m = model("gen", LatentSpec.Patching.ENTROPY, Double.NaN, 0, 0, 9)) {
            int[][] prompts = {ids("In the beginning"), ids("✓"), new int[] {1}, ids("And God said, Let there be light: and")};
            int[] max = {20, 7, 15, 11};
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                SamplingParams.Builder p = SamplingParams.builder().maxTokens(max[i]).ignoreEos(true);
                params.add(i % 2 == 0 ? p.temperature(0).build() : p.temperature(0.9f).topK(40).seed(50 + i).build());
            }
            int[][] alone = new int[prompts.length][];
            for (int i = 0; i < prompts.length; i++) {
                try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(1))) {
                    Completion c = g.generate(Prompt.tokens(prompts[i]), params.get(i));
                    assertEquals(max[i], c.tokens().length);
                    alone[i] = c.tokens();
                }
            }
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(3))) {
                List<Prompt> ps = new ArrayList<>();
                for (int[] p : prompts) ps.add(Prompt.tokens(p));
                List<CompletableFuture<Completion>> fs = g.submitAll(ps, params, null);
                for (int i = 0; i < prompts.length; i++) assertArrayEquals(alone[i], Generator.await(fs.get(i)).tokens(), "prompt " + i);
            }
            // greedy equals the argmax chain of full recomputation (the reference's way)
            int[] seq = prompts[0];
            for (int t = 0; t < max[0]; t++) {
                float[] y = forward(m, seq);
                int v = m.config().vocabSize(), best = 0, last = seq.length - 1;
                for (int j = 1; j < v; j++) if (y[last * v + j] > y[last * v + best]) best = j;
                assertEquals(best, alone[0][t], "greedy byte " + t);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
        }
    }
}
