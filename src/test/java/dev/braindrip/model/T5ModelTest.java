package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.generate.ScoreResult;
import dev.braindrip.generate.Scorer;
import dev.braindrip.reference.T5Reference;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The encoder-decoder model (T5) on tiny random checkpoints of both variants — original (ReLU FFN,
 * tied head with the d_model^−½ rescale) and v1.1 (gated-GELU, own lm_head) — with weights N(0,
 * 0.1²) so that scores, biases and logits have a real spread: a ragged batch equals each row
 * alone; an incremental session (prefill of the sources and the start token, then steps, with a
 * slot moved in between as the generation engine does) equals full recomputation at every step,
 * past the relative-attention max distance in both stacks; generation over a ragged batch of
 * sources equals each source alone (greedy and seeded sampling, in batches of 1, 2 and 4);
 * target scoring equals the NLL computed from the forward's logits; bad calls fail with clear
 * messages.
 */
class T5ModelTest {
    static final double MAX_NMSE = 1e-10;

    @TempDir
    Path tmp;

    /** tiny: d_model 64, 4 heads of d_kv 16, 16 buckets, max distance 32; v1.1 when {@code gated}. */
    static ModelConfig config(boolean gated) {
        ModelConfig tiny = new T5().preset("tiny");
        if (!gated) return tiny;
        return tiny.toBuilder().activation(ModelConfig.FfnActivation.GEGLU_TANH).ffnGated(true).tieEmbeddings(false).logitScale(1.0)
                .layers(3, LayerSpec.dense()).decoderLayers(2).build();
    }

    /**
     * A random checkpoint: matrices N(0, 0.1²) (scores of std ~2.5), then the relative-bias tables
     * made N(0, 1) so that the bias moves the attention, and the embedding N(0, 0.4²) so that the
     * tied head's logits (× d_model^−½) spread; saved and loaded back.
     */
    private Transformer load(boolean gated, long seed) throws Exception {
        Path dir = dir(gated, seed);
        if (!Files.exists(dir)) {
            Path raw = tmp.resolve("raw-" + dir.getFileName());
            Checkpoints.writeRandom(config(gated), DType.F32, seed, raw, 0.1);
            SplittableRandom r = new SplittableRandom(seed);
            try (Transformer m = Transformer.load(raw, Device.cpu(), DType.F32)) {
                for (String name : List.of("enc.rel_bias", "dec.rel_bias", "embed")) {
                    Tensor t = m.weights().get(name);
                    float[] x = new float[(int) t.numel()];
                    double std = name.equals("embed") ? 0.4 : 1.0;
                    for (int i = 0; i < x.length; i++) x[i] = (float) (std * gauss(r));
                    t.copyFrom(x);
                }
                m.save(dir);
            }
        }
        return Transformer.load(dir, Device.cpu(), DType.F32);
    }

    private Path dir(boolean gated, long seed) {
        return tmp.resolve((gated ? "v11-" : "t5-") + seed);
    }

    static double gauss(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    static int[] randomIds(SplittableRandom r, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 2 + r.nextInt(vocab - 2); // not pad 0 or EOS 1
        return ids;
    }

    static double nmse(float[] got, float[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return num / Math.max(den, 1e-30);
    }

    /** Rows [from, to) of a (T, V) result. */
    static float[] rows(float[] all, int vocab, int from, int to) {
        return Arrays.copyOfRange(all, from * vocab, to * vocab);
    }

    private static float[] forward(Transformer m, int[] source, int[] decoder) {
        try (Tensor y = m.forward(TokenBatch.of(source), TokenBatch.of(decoder))) {
            return y.toFloatArray();
        }
    }

    private static int[] withStart(int start, int[] tokens, int n) {
        int[] d = new int[n + 1];
        d[0] = start;
        System.arraycopy(tokens, 0, d, 1, n);
        return d;
    }

    @Test
    void raggedBatchEqualsEachRowAlone() throws Exception {
        for (boolean gated : new boolean[] {false, true}) {
            try (Transformer m = load(gated, 11)) {
                int v = m.config().vocabSize();
                SplittableRandom r = new SplittableRandom(5);
                int[][] src = {randomIds(r, 1, v), randomIds(r, 40, v), randomIds(r, 7, v)};
                int[][] dec = {withStart(0, randomIds(r, 9, v), 9), withStart(0, new int[0], 0), withStart(0, randomIds(r, 36, v), 36)};
                TokenBatch db = TokenBatch.of(dec);
                float[] all;
                try (Tensor y = m.forward(TokenBatch.of(src), db)) {
                    assertArrayEquals(new long[] {db.totalTokens(), v}, y.shape());
                    all = y.toFloatArray();
                }
                double spread = 0;
                for (int b = 0; b < src.length; b++) {
                    float[] alone = forward(m, src[b], dec[b]);
                    float[] inBatch = rows(all, v, db.offset(b), db.offset(b) + db.length(b));
                    double e = nmse(inBatch, alone);
                    assertTrue(e <= MAX_NMSE, (gated ? "v1.1" : "t5") + " row " + b + ": NMSE " + e);
                    spread = Math.max(spread, std(alone));
                }
                assertTrue(spread > 0.3, "logits must have a real spread across the vocabulary, std " + spread);
            }
        }
    }

    static double std(float[] x) {
        double s = 0, s2 = 0;
        for (float f : x) {
            s += f;
            s2 += (double) f * f;
        }
        double mean = s / x.length;
        return Math.sqrt(Math.max(0, s2 / x.length - mean * mean));
    }

    /** The whole forward (a ragged batch, distances past max distance 32 in both stacks) against the double-precision T5Reference. */
    @Test
    void matchesTheDoublePrecisionReference() throws Exception {
        for (boolean gated : new boolean[] {false, true}) {
            try (Transformer m = load(gated, 13)) {
                Path dir = dir(gated, 13);
                T5Reference ref = T5Reference.of(Fixtures.JSON.readTree(dir.resolve("config.json").toFile()), Fixtures.weights(dir));
                int v = m.config().vocabSize();
                SplittableRandom r = new SplittableRandom(14);
                int[][] src = {randomIds(r, 45, v), randomIds(r, 2, v)};
                int[][] dec = {withStart(0, randomIds(r, 37, v), 37), withStart(0, randomIds(r, 3, v), 3)};
                TokenBatch db = TokenBatch.of(dec), sb = TokenBatch.of(src);
                float[] got, enc;
                try (Tensor y = m.forward(sb, db); Tensor h = m.encode(sb)) {
                    got = y.toFloatArray();
                    enc = h.toFloatArray();
                }
                for (int b = 0; b < 2; b++) {
                    double e = Fixtures.nmse(got, db.offset(b), v, Fixtures.flatten(ref.logits(src[b], dec[b])));
                    assertTrue(e <= 1e-9, (gated ? "v1.1" : "t5") + " row " + b + " logits vs T5Reference: NMSE " + e);
                    double he = Fixtures.nmse(enc, sb.offset(b), m.config().hidden(), Fixtures.flatten(ref.encode(src[b])));
                    assertTrue(he <= 1e-9, (gated ? "v1.1" : "t5") + " row " + b + " encoder vs T5Reference: NMSE " + he);
                }
            }
        }
    }

    @Test
    void sourceReachesTheDecoder() throws Exception {
        try (Transformer m = load(false, 12)) {
            int v = m.config().vocabSize();
            SplittableRandom r = new SplittableRandom(6);
            int[] dec = withStart(0, randomIds(r, 4, v), 4);
            float[] a = forward(m, randomIds(r, 8, v), dec), b = forward(m, randomIds(r, 8, v), dec);
            assertTrue(nmse(a, b) > 1e-3, "the decoder logits must depend on the source (cross-attention), NMSE " + nmse(a, b));
        }
    }

    /** Session prefill + steps (and a move) against a full forward over [start] + tokens so far, every step. */
    @Test
    void cachedDecodingEqualsFullRecomputation() throws Exception {
        for (boolean gated : new boolean[] {false, true}) {
            try (Transformer m = load(gated, 21)) {
                int v = m.config().vocabSize(), start = m.config().decoderStartTokenId(), steps = 38; // past max distance 32
                SplittableRandom r = new SplittableRandom(7);
                int[][] src = {randomIds(r, 3, v), randomIds(r, 45, v), randomIds(r, 12, v)};
                int[][] out = {randomIds(r, steps, v), randomIds(r, steps, v), randomIds(r, steps, v)};
                int[] slotOf = {0, 1, 2}; // sequence -> slot
                List<String> bad = new ArrayList<>();
                double worst = 0;
                try (Session s = m.session(3, 64)) {
                    assertTrue(s.encoderDecoder());
                    float[] pre;
                    try (Tensor y = s.prefill(TokenBatch.of(src), 0)) {
                        assertArrayEquals(new long[] {3, v}, y.shape());
                        pre = y.toFloatArray();
                    }
                    for (int b = 0; b < 3; b++) {
                        worst = Math.max(worst, check(bad, "prefill row " + b, rows(pre, v, b, b + 1), forward(m, src[b], new int[] {start})));
                        assertEquals(1, s.length(b));
                    }
                    List<Integer> live = new ArrayList<>(List.of(0, 1, 2));
                    for (int t = 0; t < steps; t++) {
                        if (t == 10) { // sequence 0 finishes: the last slot moves into its place, as the generator retires
                            s.move(2, 0);
                            slotOf[2] = 0;
                            live = new ArrayList<>(List.of(2, 1));
                        }
                        int[] ids = new int[live.size()];
                        for (int q : live) ids[slotOf[q]] = out[q][t];
                        float[] y;
                        try (Tensor lt = s.step(ids)) {
                            y = lt.toFloatArray();
                        }
                        for (int q : live) {
                            float[] full = forward(m, src[q], withStart(start, out[q], t + 1));
                            worst = Math.max(worst, check(bad, "step " + t + " seq " + q, rows(y, v, slotOf[q], slotOf[q] + 1),
                                    rows(full, v, t + 1, t + 2)));
                        }
                    }
                    assertEquals(steps + 1, s.length(0));
                }
                System.out.printf("  %s cached decoding vs full: worst NMSE %.2e over %d steps%n", gated ? "v1.1" : "t5", worst, steps);
                assertTrue(bad.isEmpty(), String.join("\n", bad));
            }
        }
    }

    private static double check(List<String> bad, String what, float[] got, float[] want) {
        double e = nmse(got, want);
        if (!(e <= MAX_NMSE)) bad.add(what + ": NMSE " + e);
        return e;
    }

    @Test
    void generationOnRaggedSourcesEqualsEachAlone() throws Exception {
        try (Transformer m = load(true, 31)) {
            int v = m.config().vocabSize();
            SplittableRandom r = new SplittableRandom(8);
            int[][] src = {randomIds(r, 5, v), randomIds(r, 33, v), randomIds(r, 1, v), randomIds(r, 17, v), randomIds(r, 9, v)};
            int[] maxTokens = {12, 3, 20, 7, 15};
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < src.length; i++) {
                SamplingParams.Builder p = SamplingParams.builder().maxTokens(maxTokens[i]).ignoreEos(true);
                params.add(i % 2 == 0 ? p.temperature(0).build() : p.temperature(0.9f).topK(50).repetitionPenalty(1.3f).seed(100 + i).build());
            }
            int[][] alone = new int[src.length][];
            for (int i = 0; i < src.length; i++) {
                try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(1))) {
                    Completion c = g.generate(Prompt.tokens(src[i]), params.get(i));
                    assertEquals(maxTokens[i], c.tokens().length);
                    assertEquals(src[i].length, c.promptTokens());
                    alone[i] = c.tokens();
                }
            }
            for (int batch : new int[] {2, 4}) {
                try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(batch))) {
                    List<Prompt> ps = new ArrayList<>();
                    for (int[] s : src) ps.add(Prompt.tokens(s));
                    List<CompletableFuture<Completion>> fs = g.submitAll(ps, params, null);
                    for (int i = 0; i < src.length; i++) {
                        assertArrayEquals(alone[i], Generator.await(fs.get(i)).tokens(), "batch " + batch + ", source " + i);
                    }
                }
            }
            // greedy equals the argmax chain of full forwards
            int[] chain = new int[maxTokens[0]];
            for (int t = 0; t < chain.length; t++) {
                float[] y = forward(m, src[0], withStart(0, chain, t));
                int best = 0;
                for (int j = 1; j < v; j++) if (y[t * v + j] > y[t * v + best]) best = j;
                chain[t] = best;
            }
            assertArrayEquals(chain, alone[0], "greedy generation must follow the argmax of the full forward");
        }
    }

    @Test
    void generationStopsAtEosAndTheDecoderLength() throws Exception {
        try (Transformer m = load(false, 32)) {
            SplittableRandom r = new SplittableRandom(9);
            int[] src = randomIds(r, 6, m.config().vocabSize());
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(2).maxSequenceLength(8))) {
                // 8 decoder tokens: the start token and 7 generated, whatever the source's length
                Completion c = g.generate(Prompt.tokens(src), SamplingParams.builder().temperature(0).maxTokens(100).ignoreEos(true).build());
                assertEquals(7, c.tokens().length);
                assertEquals("LENGTH", c.finishReason().name());
                int first = c.tokens()[0];
                Completion s = g.generate(Prompt.tokens(src), SamplingParams.builder().temperature(0).maxTokens(100).ignoreEos(true)
                        .stopTokenIds(List.of(first)).build());
                assertEquals(0, s.tokens().length);
                assertEquals("STOP", s.finishReason().name());
            }
        }
    }

    /** Forward, encode, a session and a generator leave no activation alive: the arena is back where it was. */
    @Test
    void nothingStaysAllocated() throws Exception {
        try (Transformer m = load(false, 71)) {
            SplittableRandom r = new SplittableRandom(12);
            int v = m.config().vocabSize();
            int[][] src = {randomIds(r, 30, v), randomIds(r, 4, v)};
            long base = m.activations().allocatedBytes();
            for (int i = 0; i < 3; i++) {
                m.forward(TokenBatch.of(src), TokenBatch.of(new int[] {0, 5}, new int[] {0})).close();
                m.encode(TokenBatch.of(src)).close();
                assertEquals(base, m.activations().allocatedBytes(), "forward / encode " + i + " left activations alive");
                try (Session s = m.session(2, 40)) {
                    s.prefill(TokenBatch.of(src), 0).close();
                    long cache = s.cacheBytes();
                    for (int t = 0; t < 5; t++) s.step(new int[] {3 + t, 4 + t}).close();
                    assertEquals(base + cache, m.activations().allocatedBytes(), "session " + i + ": only its caches may stay");
                }
                assertEquals(base, m.activations().allocatedBytes(), "session " + i + " left memory alive");
                try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(2))) {
                    g.generate(Prompt.tokens(src[0]), SamplingParams.greedy(6));
                }
                assertEquals(base, m.activations().allocatedBytes(), "generator " + i + " left memory alive");
            }
        }
    }

    @Test
    void scoreTargetIsTheForwardsNll() throws Exception {
        try (Transformer m = load(true, 41)) {
            int v = m.config().vocabSize();
            SplittableRandom r = new SplittableRandom(10);
            int[] src = randomIds(r, 11, v), target = randomIds(r, 6, v);
            ScoreResult res = Scorer.scoreTarget(m, src, target, 20);
            float[] y = forward(m, src, withStart(0, target, target.length - 1));
            double total = 0;
            for (int t = 0; t < target.length; t++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < v; j++) max = Math.max(max, y[t * v + j]);
                for (int j = 0; j < v; j++) sum += Math.exp(y[t * v + j] - max);
                total += max + Math.log(sum) - y[t * v + target[t]];
            }
            assertEquals(total / target.length, res.meanNll(), 1e-5);
            assertEquals(total / Math.log(2) / 20, res.bitsPerByte(), 1e-5);
            assertEquals(target.length + 1, res.tokens());
        }
    }

    @Test
    void saveAndLoadGiveTheSameModel() throws Exception {
        try (Transformer m = load(true, 51)) {
            Path out = tmp.resolve("saved");
            m.save(out);
            SplittableRandom r = new SplittableRandom(11);
            int[] src = randomIds(r, 9, m.config().vocabSize()), dec = withStart(0, randomIds(r, 5, m.config().vocabSize()), 5);
            try (Transformer back = Transformer.load(out, Device.cpu(), DType.F32)) {
                assertEquals(m.config(), back.config());
                assertEquals(0.0, nmse(forward(back, src, dec), forward(m, src, dec)));
            }
            assertArrayEquals(Files.readAllBytes(dir(true, 51).resolve("model.safetensors")),
                    Files.readAllBytes(out.resolve("model.safetensors")), "a save after a load writes the checkpoint's bytes back");
        }
    }

    @Test
    void badCallsFailClearly() throws Exception {
        try (Transformer m = load(false, 61)) {
            int v = m.config().vocabSize();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(TokenBatch.of(new int[] {3, 4})));
            assertTrue(e.getMessage().contains("encoder-decoder"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(TokenBatch.of(new int[] {3}, new int[] {4}), TokenBatch.of(new int[] {0})));
            assertTrue(e.getMessage().contains("2 source rows but 1 decoder rows"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(TokenBatch.of(new int[] {3}), TokenBatch.of(new int[] {0, v})));
            assertTrue(e.getMessage().contains("decoder token id " + v), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(TokenBatch.of(new int[] {-1}), TokenBatch.of(new int[] {0})));
            assertTrue(e.getMessage().contains("source id -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Scorer.builder(m).build());
            assertTrue(e.getMessage().contains("encoder-decoder"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Scorer.scoreTarget(m, new int[] {3}, new int[0], -1));
            assertTrue(e.getMessage().contains("target is empty"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new Generator(m, null, GeneratorOptions.defaults().streaming(4, 16)));
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxSequenceLength(16))) {
                CompletableFuture<Completion> f = g.submit(Prompt.tokens(new int[17]), SamplingParams.greedy(3));
                Exception x = assertThrows(Exception.class, () -> Generator.await(f));
                assertTrue(x.getMessage().contains("17 tokens"), x.getMessage());
            }
        }
        ModelConfig c = config(false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.toBuilder().decoderLayers(0).build());
        assertTrue(e.getMessage().contains("decoderLayers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.toBuilder().decoderStartTokenId(c.vocabSize()).build());
        assertTrue(e.getMessage().contains("decoderStartTokenId"), e.getMessage());
    }

    @Test
    void hfConfigRoundTrips() {
        T5 arch = new T5();
        for (String p : arch.presets()) {
            ModelConfig c = arch.preset(p);
            assertEquals(c, arch.config(new HfConfig(arch.hfConfig(c), null)), p);
        }
        ModelConfig v11 = arch.preset("t5-v1_1-base");
        assertEquals(ModelConfig.FfnActivation.GEGLU_TANH, v11.activation());
        assertEquals(1.0, v11.logitScale());
        ModelConfig base = arch.preset("t5-base");
        assertEquals(1 / Math.sqrt(768), base.logitScale(), 1e-15);
        assertEquals(32, base.relBuckets());
        assertEquals(128, base.relMaxDistance());
        assertEquals(12, base.decoderLayers());
    }
}
