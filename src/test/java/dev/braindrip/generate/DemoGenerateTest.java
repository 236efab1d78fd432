package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.DemoModel;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded demo model through the public API: it loads by name, writes the pinned greedy text,
 * samples reproducibly under a seed, and scores a fixed held-out passage (the book of Ruth is not in
 * its training text) inside a pinned range. These pins fail if the weights, the loader or the
 * generation path break; retraining the demo (scripts/train_demo.py) means pinning them again.
 */
class DemoGenerateTest {
    /** Ruth 1:1-4 as scripts/demo_corpus.py lays it out (held out from training). */
    static final String PASSAGE = "Now it came to pass in the days when the judges ruled, that there was a famine in the land. And a certain man "
            + "of Bethlehemjudah went to sojourn in the country of Moab, he, and his wife, and his two sons. And the name of the man was "
            + "Elimelech, and the name of his wife Naomi, and the name of his two sons Mahlon and Chilion, Ephrathites of Bethlehemjudah. "
            + "And they came into the country of Moab, and continued there. And Elimelech Naomi's husband died; and she was left, and her two "
            + "sons. And they took them wives of the women of Moab; the name of the one was Orpah, and the name of the other Ruth: and they "
            + "dwelled there about ten years.";
    /** Bits per byte of {@link #PASSAGE} measured with the shipped weights (F32 compute on the CPU), and the tolerance around it. */
    static final double PASSAGE_BITS_PER_BYTE = 1.6100;
    static final double PASSAGE_TOLERANCE = 0.02;

    static final String GREEDY_PROMPT = "In the beginning God created";
    static final String GREEDY_TEXT = " unto the LORD thy God in the house of Israel, and the LORD ";

    static Transformer model;

    @BeforeAll
    static void load() throws Exception {
        model = Transformer.load(DemoModel.NAME, Device.cpu(), null);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    @Test
    void isTheByteLevelLlamaCliMdDescribes() {
        assertEquals("llama", model.config().architecture());
        assertEquals(258, model.config().vocabSize());
        assertTrue(model.directory().isPresent());
        try (Generator g = Generator.of(model)) {
            Tokenizer t = g.tokenizer();
            assertEquals(List.of(256, 72, 105), java.util.Arrays.stream(t.encode("Hi", true)).boxed().toList(), "BOS then the bytes");
        }
    }

    @Test
    void greedyTextIsPinnedAndTheSameAloneAndInABatch() {
        SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(GREEDY_TEXT.getBytes(StandardCharsets.UTF_8).length).build();
        try (Generator g = Generator.of(model)) {
            Completion alone = g.generate(Prompt.text(GREEDY_PROMPT), greedy);
            assertEquals(GREEDY_TEXT, alone.text());
            List<Completion> batch = g.generate(List.of("And the LORD spake unto Moses, saying,", GREEDY_PROMPT, "Blessed are"), greedy);
            assertEquals(GREEDY_TEXT, batch.get(1).text());
        }
    }

    @Test
    void samplingIsReproducibleUnderItsSeedAndWritesCorpusWords() {
        SamplingParams p = SamplingParams.builder().temperature(0.8f).maxTokens(120).seed(7L).build();
        String a, b, c;
        try (Generator g = Generator.of(model)) {
            a = g.generate(Prompt.text("And Jesus answered and said"), p).text();
            b = g.generate(Prompt.text("And Jesus answered and said"), p).text();
            c = g.generate(Prompt.text("And Jesus answered and said"), p.toBuilder().seed(8L).build()).text();
        }
        assertEquals(a, b);
        assertNotEquals(a, c, "another seed gave the same 120 bytes");
        // a trained model writes words: most of the output is letters and spaces, and common words appear
        long letters = a.chars().filter(ch -> Character.isLetter(ch) || ch == ' ').count();
        assertTrue(letters >= 0.8 * a.length(), "not text: " + a);
    }

    @Test
    void scoresTheHeldOutPassageInItsPinnedRange() {
        int[] ids = Generator.encode(Prompt.text(PASSAGE), ModelText.byteLevel(model.config()), model.config().vocabSize());
        ScoreResult r = Scorer.builder(model).build().score(ids, PASSAGE.getBytes(StandardCharsets.UTF_8).length);
        assertEquals(PASSAGE_BITS_PER_BYTE, r.bitsPerByte(), PASSAGE_TOLERANCE, "bits per byte of Ruth 1:1-4");
    }
}
