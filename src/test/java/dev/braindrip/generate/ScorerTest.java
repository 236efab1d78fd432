package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.Transformer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Scorer against one full forward and against Hugging Face's strided loop written out in the test (ScoreModels). */
class ScorerTest {
    private static final long SEED = 20240611L;
    private static final double TOL = 2e-5; // F32 forwards: packed ragged rows vs one row at a time
    private static Transformer model;

    @BeforeAll
    static void load() {
        model = ScoreModels.random(ScoreModels.llamaTiny(-1), SEED, 0.2);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void windowCoveringTheTextIsOneFullForward() {
        int[] ids = ScoreModels.randomIds(SEED + 1, 97, 512);
        ScoreResult r = Scorer.builder(model).build().score(ids);
        assertEquals(512, r.window(), "default window: the model's context (512)");
        assertEquals(256, r.stride(), "default stride: half the window");
        double want = ScoreModels.fullContextMean(model, ids);
        assertEquals(want, r.meanNll(), TOL, "seed " + SEED);
        assertEquals(97, r.tokens());
        assertEquals(96, r.scoredTokens());
        assertEquals(Math.exp(r.meanNll()), r.perplexity(), 1e-12 * r.perplexity());
        assertEquals(-1, r.bytes());
        assertTrue(Double.isNaN(r.bitsPerByte()));
        assertEquals(0, model.activations().liveTensors(), "every activation freed");

        ScoreResult exact = Scorer.builder(model).window(97).build().score(ids);
        assertEquals(want, exact.meanNll(), TOL, "a window of exactly the text's length");
    }

    @ParameterizedTest(name = "L={0} window={1} stride={2} batchTokens={3}")
    @CsvSource({
            "100, 32, 12, 0",     // last window short, batched windows (default budget)
            "100, 32, 12, 32",    // one window per forward
            "100, 32, 17, 100",   // a few windows per forward
            "96, 32, 16, 0",      // windows end exactly at L
            "50, 2, 1, 0",        // smallest window: one token of context each
            "64, 20, 19, 0",      // overlap of one token
            "33, 32, 16, 0"})     // two windows, the second scores one token
    void stridedWindowsAreHuggingFacesLoop(int length, int window, int stride, int batchTokens) {
        int[] ids = ScoreModels.randomIds(SEED + length + window * 7L + stride, length, 512);
        Scorer.Builder b = Scorer.builder(model).window(window).stride(stride);
        if (batchTokens > 0) b.batchTokens(batchTokens);
        ScoreResult r = b.build().score(ids);
        double[] hf = ScoreModels.hfStrided(model, ids, window, stride);
        assertEquals(length - 1, (int) hf[1], "the oracle scores every token after the first once");
        assertEquals(hf[0] / hf[1], r.meanNll(), TOL, "seed " + SEED);
        assertEquals(window, r.window());
        assertEquals(stride, r.stride());
        assertEquals(0, model.activations().liveTensors(), "every activation freed");
    }

    @Test
    void theTestCanTellStridedFromFullContext() {
        // the oracle above would pass a Scorer that ignored the windows unless the context matters in this model
        int[] ids = ScoreModels.randomIds(SEED + 5, 100, 512);
        double full = ScoreModels.fullContextMean(model, ids);
        ScoreResult strided = Scorer.builder(model).window(8).stride(4).build().score(ids);
        ScoreResult lessOverlap = Scorer.builder(model).window(8).stride(7).build().score(ids);
        assertTrue(Math.abs(full - strided.meanNll()) > 100 * TOL, full + " vs " + strided.meanNll());
        assertTrue(Math.abs(strided.meanNll() - lessOverlap.meanNll()) > 100 * TOL, strided.meanNll() + " vs " + lessOverlap.meanNll());
    }

    @Test
    void windowPlanScoresEachTokenOnce() {
        for (int length : new int[] {2, 3, 17, 100}) {
            for (int window = 2; window <= 12; window++) {
                for (int stride = 1; stride < window; stride++) {
                    int[] count = new int[length];
                    List<Scorer.Window> plan = Scorer.windows(length, window, stride);
                    for (Scorer.Window w : plan) {
                        assertTrue(w.length() <= window && w.firstTarget() > w.begin(), w.toString());
                        for (int t = w.firstTarget(); t < w.end(); t++) count[t]++;
                    }
                    assertEquals(0, count[0]);
                    for (int t = 1; t < length; t++) assertEquals(1, count[t], "L=" + length + " w=" + window + " s=" + stride + " t=" + t);
                    assertEquals(length, plan.get(plan.size() - 1).end());
                }
            }
        }
    }

    @Test
    void byteLevelTextWithBos(@TempDir Path dir) throws Exception {
        try (Transformer m = ScoreModels.random(ScoreModels.llamaTiny(256), SEED + 9, 0.2)) {
            m.save(dir);
            String text = "Grüße, wörld — ✓ naïve café\n";
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            int[] ids;
            try (Tokenizer t = ModelText.tokenizer(dir, m.config()).orElseThrow()) {
                ids = t.encode(text, true);
                assertEquals(256, t.bosId());
                assertEquals(text, t.decode(ids, true));
            }
            assertEquals(utf8.length + 1, ids.length);
            assertEquals(256, ids[0], "BOS first");
            for (int i = 0; i < utf8.length; i++) assertEquals(utf8[i] & 0xff, ids[i + 1]);

            ScoreResult r = Scorer.builder(m).window(16).stride(8).build().score(ids, utf8.length);
            double[] hf = ScoreModels.hfStrided(m, ids, 16, 8);
            assertEquals(utf8.length, (int) hf[1], "every byte is scored");
            assertEquals(hf[0] / hf[1], r.meanNll(), TOL);
            assertEquals(utf8.length, r.bytes());
            assertEquals(r.totalNll() / Math.log(2) / utf8.length, r.bitsPerByte(), 1e-12);
            assertEquals(hf[0] / Math.log(2) / utf8.length, r.bitsPerByte(), TOL);
            assertEquals(Math.exp(r.meanNll()), r.perplexity(), 1e-12 * r.perplexity());
        }
    }

    @Test
    void byteLevelWithoutBosAndIdsOnlyModels(@TempDir Path dir) throws Exception {
        try (Tokenizer t = ModelText.tokenizer(dir, ScoreModels.llamaTiny(-1)).orElseThrow()) {
            assertArrayEquals(new int[] {'h', 'i'}, t.encode("hi", true));
            assertEquals(-1, t.bosId());
        }
        var small = ScoreModels.llamaTiny(-1).toBuilder().vocabSize(200).build();
        assertFalse(ModelText.isByteLevel(small));
        assertTrue(ModelText.tokenizer(dir, small).isEmpty(), "a vocabulary of 200 ids is not byte-level");
    }

    @Test
    void errorsNameTheOption() {
        IllegalArgumentException shortText = assertThrows(IllegalArgumentException.class, () -> Scorer.builder(model).build().score(new int[] {5}));
        assertTrue(shortText.getMessage().contains("at least 2"), shortText.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Scorer.builder(model).build().score(new int[0]));

        assertMessage("window (1) must be at least 2", () -> Scorer.builder(model).window(1).build());
        assertMessage("window (513) exceeds the model's context of 512", () -> Scorer.builder(model).window(513).build());
        assertMessage("stride (0) must be in [1, 31]", () -> Scorer.builder(model).window(32).stride(0).build());
        assertMessage("stride (32) must be in [1, 31]", () -> Scorer.builder(model).window(32).stride(32).build());
        assertMessage("batchTokens (0)", () -> Scorer.builder(model).batchTokens(0).build());
        assertEquals(0, model.activations().liveTensors());
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(part), ex.getMessage());
    }
}
