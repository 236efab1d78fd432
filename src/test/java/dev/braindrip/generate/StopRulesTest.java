package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.Transformer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EOS, ignore_eos, stop ids, stop strings across token boundaries, max_tokens; streaming callbacks hold back what a stop string could cut. */
class StopRulesTest {
    @TempDir
    Path tmp;

    Transformer model;
    int[] prompt = {7, 3, 11, 2};
    int[] free; // the greedy continuation without stop rules

    /** Each id is a piece of one to three letters (and a space after some), so text boundaries differ from token boundaries. */
    static String piece(int id) {
        String s = String.valueOf((char) ('a' + id % 26));
        if (id % 3 == 1) s += (char) ('a' + (id / 26) % 26);
        if (id % 5 == 2) s += " ";
        return s;
    }

    static final class PieceTokenizer implements Tokenizer {
        final Set<Integer> eos;

        PieceTokenizer(Set<Integer> eos) {
            this.eos = eos;
        }

        @Override public int[] encode(String text, boolean addSpecialTokens) { throw new UnsupportedOperationException(); }
        @Override public String decode(int[] ids, boolean skip) {
            StringBuilder b = new StringBuilder();
            for (int id : ids) b.append(piece(id));
            return b.toString();
        }
        @Override public int bosId() { return -1; }
        @Override public Set<Integer> eosIds() { return eos; }
        @Override public boolean isSpecial(int id) { return false; }
        @Override public int vocabSize() { return 512; }
        @Override public boolean hasChatTemplate() { return false; }
        @Override public String applyChatTemplate(List<Map<String, Object>> m, boolean g) { throw new UnsupportedOperationException(); }
        @Override public IncrementalDecoder incremental(boolean skip) {
            return new IncrementalDecoder() {
                @Override public String next(int id) { return piece(id); }
                @Override public String flush() { return ""; }
            };
        }
        @Override public void close() {}
    }

    @BeforeEach
    void setUp() throws Exception {
        model = GreedyChainTest.tiny("llama", tmp.resolve("m"), 21);
        free = GreedyChainTest.argmaxChain(model, prompt, 16);
    }

    @AfterEach
    void tearDown() {
        model.close();
    }

    static String text(int[] ids, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append(piece(ids[i]));
        return b.toString();
    }

    @Test
    void stopStringAcrossTokens() {
        String full = text(free, free.length);
        // a stop string from inside token 4's piece to token 6's end: it spans three tokens
        int start = text(free, 4).length() + Math.min(1, piece(free[4]).length() - 1), end = text(free, 7).length();
        String stop = full.substring(start, end);
        int cut = full.indexOf(stop);
        int completedAt = 0; // the token whose text completes the first occurrence
        while (text(free, completedAt + 1).length() < cut + stop.length()) completedAt++;
        try (Generator g = new Generator(model, new PieceTokenizer(Set.of()), GeneratorOptions.defaults())) {
            List<GeneratedToken> streamed = new ArrayList<>();
            Completion c = Generator.await(g.submit(Prompt.tokens(prompt),
                    SamplingParams.builder().temperature(0).maxTokens(16).stop("zzzz", stop).build(), streamed::add));
            assertEquals(FinishReason.STOP, c.finishReason());
            assertEquals(full.substring(0, cut), c.text(), "the stop string and what follows are cut");
            assertArrayEquals(Arrays.copyOf(free, completedAt + 1), c.tokens(), "tokens up to the one completing the stop string");
            StringBuilder joined = new StringBuilder();
            for (GeneratedToken t : streamed) {
                joined.append(t.text());
                assertFalse(joined.toString().contains(stop), "streamed text never shows the stop string");
            }
            assertEquals(c.text(), joined.toString(), "the streamed pieces make the text");
        }
    }

    @Test
    void eosStopIdsAndLength() {
        int k = 5, id = free[k];
        int first = 0;
        while (free[first] != id) first++; // the id may already occur before k
        try (Generator g = new Generator(model, new PieceTokenizer(Set.of(id)), GeneratorOptions.defaults())) {
            Completion eos = g.generate(Prompt.tokens(prompt), SamplingParams.builder().temperature(0).maxTokens(16).build());
            assertEquals(FinishReason.EOS, eos.finishReason());
            assertArrayEquals(Arrays.copyOf(free, first), eos.tokens(), "EOS ends it and is not in tokens");
            assertEquals(text(free, first), eos.text());
            Completion ignored = g.generate(Prompt.tokens(prompt), SamplingParams.builder().temperature(0).maxTokens(16).ignoreEos(true).build());
            assertEquals(FinishReason.LENGTH, ignored.finishReason());
            assertArrayEquals(free, ignored.tokens());
        }
        try (Generator g = new Generator(model, new PieceTokenizer(Set.of()), GeneratorOptions.defaults())) {
            Completion stop = g.generate(Prompt.tokens(prompt), SamplingParams.builder().temperature(0).maxTokens(16).stopTokenIds(List.of(id)).build());
            assertEquals(FinishReason.STOP, stop.finishReason());
            assertArrayEquals(Arrays.copyOf(free, first), stop.tokens(), "the stop id is not in tokens");
            Completion len = g.generate(Prompt.tokens(prompt), SamplingParams.builder().temperature(0).maxTokens(3).build());
            assertEquals(FinishReason.LENGTH, len.finishReason());
            assertArrayEquals(Arrays.copyOf(free, 3), len.tokens());
            assertTrue(len.logprobs().isEmpty());
        }
    }
}
