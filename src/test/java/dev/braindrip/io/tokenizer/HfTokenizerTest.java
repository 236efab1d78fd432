package dev.braindrip.io.tokenizer;

import static dev.braindrip.io.tokenizer.TinyTokenizers.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HfTokenizer over the small tokenizer.json files of {@link TinyTokenizers}. Expected ids are derived
 * by hand from each file's vocabulary and merges (see the comments); the library that runs them is
 * the Hugging Face tokenizers crate itself, so these check the files, the loading and what this
 * class adds (tokenizer_config.json, special tokens, EOS ids, clean-up, errors).
 */
class HfTokenizerTest {
    @TempDir
    Path tmp;

    static final String[] TRICKY = {
        "hello world", "naïve café 你好 🤖", "e\u0301 a\u0308 n\u0303", "👩‍💻 family 👨‍👩‍👧", "a  \t\n  b",
        "   leading spaces", "trailing  ", "", " ", "\n\n", "hello the hello", "€1,000.50 — “quotes”",
        "ünïcödé\u00a0nbsp", "x\u2028y", "tab\tend",
    };

    private HfTokenizer load(String name, ObjectNode json, Map<String, String> files) throws Exception {
        return HfTokenizer.load(dir(tmp, name, json, files), TokenizerHints.NONE);
    }

    private static int b(char c) {
        return S_BYTE0 + c;   // a SentencePiece byte-fallback token <0xXX>
    }

    // ---- byte-level BPE (GPT-2, Llama 3)

    @Test
    void gpt2EncodesByMergesAndBytes() throws Exception {
        try (HfTokenizer t = load("gpt2", gpt2(), Map.of())) {
            // "hello" merges h+e, l+l, he+ll, hell+o; " the" is Ġ t h e -> Ġt, he -> Ġthe
            assertArrayEquals(new int[] {G_HELLO, G_THE}, t.encode("hello the", false));
            // "the" at the start has no Ġ: t + he
            assertArrayEquals(new int[] {'t', G_HE}, t.encode("the", false));
            // " hello": the regex keeps the space with the word; Ġ has no merge with h
            assertArrayEquals(new int[] {' ', G_HELLO}, t.encode(" hello", false));
            // é is C3 A9, € is E2 82 AC: id = byte
            assertArrayEquals(new int[] {'c', 'a', 'f', 0xC3, 0xA9, ' ', 0xE2, 0x82, 0xAC}, t.encode("café €", false));
            assertArrayEquals(new int[] {G_IM_START, G_HELLO, G_IM_END}, t.encode("<|im_start|>hello<|im_end|>", true));
            // GPT-2's ByteLevel post-processor adds nothing
            assertArrayEquals(t.encode("hello the", false), t.encode("hello the", true));
            assertArrayEquals(new int[0], t.encode("", true));
            assertEquals(265, t.vocabSize());
            assertEquals(-1, t.bosId());
            assertTrue(t.isSpecial(G_EOT));
            assertFalse(t.isSpecial(G_HELLO));
            assertEquals("Ġthe", t.idToToken(G_THE));
        }
    }

    @Test
    void llama3PostProcessorAddsBeginOfText() throws Exception {
        String config = "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": {\"content\": \"<|endoftext|>\", \"special\": true}}";
        try (HfTokenizer t = load("llama3", llama3(), Map.of("tokenizer_config.json", config))) {
            assertArrayEquals(new int[] {G_BOT, G_HELLO, G_THE}, t.encode("hello the", true));
            assertArrayEquals(new int[] {G_HELLO, G_THE}, t.encode("hello the", false));
            assertArrayEquals(new int[] {G_BOT}, t.encode("", true));
            assertEquals(G_BOT, t.bosId());
            assertEquals(Set.of(G_EOT), t.eosIds());
            assertEquals("<|begin_of_text|>hello the", t.decode(new int[] {G_BOT, G_HELLO, G_THE}, false));
            assertEquals("hello the", t.decode(new int[] {G_BOT, G_HELLO, G_THE}, true));
        }
    }

    @Test
    void byteLevelRoundTripsAnyText() throws Exception {
        try (HfTokenizer g = load("gpt2", gpt2(), Map.of()); HfTokenizer l = load("llama3", llama3(), Map.of())) {
            for (String s : TRICKY) {
                assertEquals(s, g.decode(g.encode(s, false), false), "gpt2: " + s);
                assertEquals(s, l.decode(l.encode(s, true), true), "llama3: " + s);
            }
            // NUL is a character; a lone surrogate is taken as U+FFFD and leaves the rest intact
            assertArrayEquals(new int[] {'a', 0, 'b'}, g.encode("a\u0000b", false));
            assertEquals("🤖\uFFFDx\uFFFD", g.decode(g.encode("🤖\uD83Ex\uDC00", false), false));
            // special token strings inside text are split out and come back
            String chat = "<|im_start|>user\nhi<|im_end|>\n";
            assertEquals(chat, g.decode(g.encode(chat, false), false));
            assertEquals("user\nhi\n", g.decode(g.encode(chat, false), true));
        }
    }

    // ---- SentencePiece-style BPE (Llama 2 / Mistral / Gemma)

    @Test
    void llama2EncodesWithPrependAndByteFallback() throws Exception {
        try (HfTokenizer t = load("llama2", llama2(), Map.of())) {
            // normalized "▁hello▁world"; merges build ▁hello and ▁world
            assertArrayEquals(new int[] {S_BOS, S_SP_HELLO, S_SP_WORLD}, t.encode("hello world", true));
            assertArrayEquals(new int[] {S_SP_HELLO, S_SP_WORLD}, t.encode("hello world", false));
            // " hello" -> "▁▁hello": the first ▁ has nothing to merge with
            assertArrayEquals(new int[] {S_SPACE, S_SP_HELLO}, t.encode(" hello", false));
            // c, a, f are not in the vocabulary: byte fallback; é is; € is E2 82 AC
            assertArrayEquals(new int[] {S_SPACE, b('c'), b('a'), b('f'), S_E_ACUTE, S_SPACE, S_BYTE0 + 0xE2,
                S_BYTE0 + 0x82, S_BYTE0 + 0xAC}, t.encode("café €", false));
            // whitespace: ▁ for each space, \t and \n by byte fallback
            assertArrayEquals(new int[] {S_SPACE, b('a'), S_SPACE, S_SPACE, b('\t'), b('\n'), S_SPACE, S_SPACE, b('b')},
                    t.encode("a  \t\n  b", false));
            // the Prepend normalizer runs on each piece between added tokens (legacy Llama 2 behaviour)
            assertArrayEquals(new int[] {S_BOS, S_SP_HELLO, S_EOS}, t.encode("<s>hello</s>", false));
            assertArrayEquals(new int[] {S_IM_START, S_SP_HELLO, S_THINK, S_SP_WORLD}, t.encode("<|im_start|>hello<think>world", false));
            assertArrayEquals(new int[] {S_BOS}, t.encode("", true));
            assertEquals(281, t.vocabSize());
        }
    }

    @Test
    void metaspaceEncodesWithPrependSchemeFirst() throws Exception {
        try (HfTokenizer t = load("metaspace", metaspace(), Map.of())) {
            assertArrayEquals(new int[] {S_BOS, S_SP_HELLO, S_SP_WORLD}, t.encode("hello world", true));
            // the space becomes ▁ and no second ▁ is prepended
            assertArrayEquals(new int[] {S_SP_HELLO, S_SP_WORLD}, t.encode(" hello world", false));
            // only the first piece gets ▁: after an added token "hello" is h e ll o
            assertArrayEquals(new int[] {S_IM_START, S_H, S_E, S_LL, S_O}, t.encode("<|im_start|>hello", false));
            assertArrayEquals(new int[] {S_IM_START, S_SP_HELLO}, t.encode("<|im_start|> hello", false));
        }
    }

    @Test
    void sentencePieceRoundTrips() throws Exception {
        try (HfTokenizer l = load("llama2", llama2(), Map.of()); HfTokenizer m = load("metaspace", metaspace(), Map.of())) {
            for (String s : TRICKY) {
                // the Strip decoder removes exactly the ▁ the normalizer prepended
                assertEquals(s, l.decode(l.encode(s, true), true), "llama2: " + s);
                // Metaspace with prepend_scheme "first" does not keep one leading space
                String expect = s.startsWith(" ") ? s.substring(1) : s;
                assertEquals(expect, m.decode(m.encode(s, true), true), "metaspace: " + s);
            }
            String chat = "<|im_start|>user hi<|im_end|><think>";
            assertEquals(chat, m.decode(m.encode(chat, false), false));
            // Llama 2's per-piece ▁ shows after special tokens
            assertEquals("<s> hello</s>", l.decode(l.encode("<s>hello</s>", false), false));
        }
    }

    @Test
    void skipSpecialTokensKeepsPlainAddedTokens() throws Exception {
        try (HfTokenizer t = load("llama2", llama2(), Map.of())) {
            int[] ids = {S_BOS, S_SP_HELLO, S_IM_END, S_THINK, S_SP_WORLD, S_EOS};
            // Replace ▁ -> " ", ByteFallback, Fuse, Strip one leading space
            assertEquals("<s> hello<|im_end|><think> world</s>", t.decode(ids, false));
            assertEquals("hello<think> world", t.decode(ids, true));
            assertTrue(t.isSpecial(S_IM_END));
            assertFalse(t.isSpecial(S_THINK));   // added, not special
            // a run of byte tokens that is not valid UTF-8 decodes as one U+FFFD per byte, the valid 'a' too
            // (ByteFallback); a complete run decodes as its text
            assertEquals("\uFFFD\uFFFD\uFFFD", t.decode(new int[] {S_SPACE, b('a'), S_BYTE0 + 0xE2, S_BYTE0 + 0x82}, true));
            assertEquals("a€", t.decode(new int[] {S_SPACE, b('a'), S_BYTE0 + 0xE2, S_BYTE0 + 0x82, S_BYTE0 + 0xAC}, true));
        }
    }

    // ---- tokenizer_config.json

    @Test
    void addBosTokenFalseDropsBos() throws Exception {
        String config = "{\"add_bos_token\": false, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
                + "\"tokenizer_class\": \"LlamaTokenizerFast\"}";
        try (HfTokenizer t = load("nobos", llama2(), Map.of("tokenizer_config.json", config))) {
            assertArrayEquals(new int[] {S_SP_HELLO}, t.encode("hello", true));
            assertEquals(S_BOS, t.bosId());   // still the model's BOS
        }
    }

    @Test
    void addEosTokenTrueAppendsEos() throws Exception {
        String config = "{\"add_bos_token\": true, \"add_eos_token\": true, \"bos_token\": {\"content\": \"<s>\"}, "
                + "\"eos_token\": {\"__type\": \"AddedToken\", \"content\": \"</s>\", \"lstrip\": false}}";
        try (HfTokenizer t = load("eos", llama2(), Map.of("tokenizer_config.json", config))) {
            assertArrayEquals(new int[] {S_BOS, S_SP_HELLO, S_EOS}, t.encode("hello", true));
            assertArrayEquals(new int[] {S_SP_HELLO}, t.encode("hello", false));
        }
    }

    @Test
    void llamaFamilyClassDefaultsApplyWithoutTheKeys() throws Exception {
        // GPT-NeoX's fast tokenizer rebuilds the post-processor with add_bos_token=False by default
        String neox = "{\"tokenizer_class\": \"GPTNeoXTokenizerFast\", \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";
        try (HfTokenizer t = load("neox", llama2(), Map.of("tokenizer_config.json", neox))) {
            assertArrayEquals(new int[] {S_SP_HELLO}, t.encode("hello", true));
        }
        // a class transformers does not rebuild keeps tokenizer.json's post-processor
        String plain = "{\"tokenizer_class\": \"PreTrainedTokenizerFast\", \"bos_token\": \"<s>\"}";
        try (HfTokenizer t = load("plain", llama2(), Map.of("tokenizer_config.json", plain))) {
            assertArrayEquals(new int[] {S_BOS, S_SP_HELLO}, t.encode("hello", true));
        }
        String noBos = "{\"add_bos_token\": true, \"eos_token\": \"</s>\"}";
        Path d = dir(tmp, "nobostoken", llama2(), Map.of("tokenizer_config.json", noBos));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(d, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("bos_token"), e.getMessage());
    }

    @Test
    void specialTokensNamedOnlyInTheConfigAreAdded() throws Exception {
        // <|eot_id|> is in neither vocabulary nor added_tokens: it gets the next id past both (280 -> 281)
        String config = "{\"eos_token\": \"<|eot_id|>\", \"added_tokens_decoder\": {\"280\": {\"content\": \"<think>\", "
                + "\"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}}}";
        try (HfTokenizer t = load("added", llama2(), Map.of("tokenizer_config.json", config))) {
            assertEquals(282, t.vocabSize());
            assertEquals(Set.of(281), t.eosIds());
            assertTrue(t.isSpecial(281));
            assertArrayEquals(new int[] {S_SP_HELLO, 281}, t.encode("hello<|eot_id|>", false));
            assertTrue(t.isSpecial(S_THINK));   // added_tokens_decoder made it special
            assertEquals("hello world", t.decode(new int[] {S_SP_HELLO, S_THINK, S_SP_WORLD, 281}, true));
        }
    }

    @Test
    void eosIdsJoinConfigGenerationConfigAndHints() throws Exception {
        Path d = dir(tmp, "eosids", llama3(), Map.of(
                "tokenizer_config.json", "{\"eos_token\": \"<|endoftext|>\"}",
                "generation_config.json", "{\"eos_token_id\": [264, 262], \"bos_token_id\": 265}",
                "config.json", "{\"model_type\": \"llama\", \"eos_token_id\": 263, \"bos_token_id\": 265}"));
        try (HfTokenizer t = HfTokenizer.load(d)) {
            assertEquals(Set.of(G_EOT, G_IM_START, G_IM_END), t.eosIds());
        }
        try (HfTokenizer t = HfTokenizer.load(d, new TokenizerHints(-1, List.of(7), 0))) {
            assertEquals(Set.of(G_EOT, G_IM_END, 7), t.eosIds());
        }
    }

    @Test
    void specialTokensMapFillsWhatTheConfigLacks() throws Exception {
        Path d = dir(tmp, "stmap", llama2(), Map.of(
                "tokenizer_config.json", "{\"bos_token\": \"<s>\"}",
                "special_tokens_map.json", "{\"bos_token\": \"<unk>\", \"eos_token\": {\"content\": \"</s>\"}}"));
        try (HfTokenizer t = HfTokenizer.load(d, TokenizerHints.NONE)) {
            assertEquals(S_BOS, t.bosId());
            assertEquals(Set.of(S_EOS), t.eosIds());
        }
    }

    @Test
    void cleanUpTokenizationSpacesAsTransformers() throws Exception {
        String config = "{\"clean_up_tokenization_spaces\": true}";
        try (HfTokenizer t = load("cleanup", gpt2(), Map.of("tokenizer_config.json", config));
             HfTokenizer raw = load("raw", gpt2(), Map.of())) {
            int[] ids = t.encode("hello , the . hello 's", false);
            assertEquals("hello , the . hello 's", raw.decode(ids, false));
            assertEquals("hello, the. hello's", t.decode(ids, false));
        }
        // expected string from transformers' clean_up_tokenization run in Python on the same input
        assertEquals("a.b? c! d, it's I'm we've they're don't'quoted '", SpaceCleanup.clean(
                "a .b ? c ! d , it 's I 'm we 've they 're do n't ' quoted '"));
    }

    @Test
    void modelMaxLengthFromConfig() throws Exception {
        try (HfTokenizer t = load("max", gpt2(), Map.of("tokenizer_config.json", "{\"model_max_length\": 2048}"));
             HfTokenizer huge = load("huge", gpt2(), Map.of("tokenizer_config.json",
                     "{\"model_max_length\": 1000000000000000019884624838656}"))) {
            assertEquals(2048, t.modelMaxLength());
            assertEquals(Long.MAX_VALUE, huge.modelMaxLength());
        }
        // no truncation, whatever model_max_length or tokenizer.json's truncation say:
        // "hello" + 999 x (Ġ, hello) + Ġ
        ObjectNode truncating = gpt2();
        truncating.putObject("truncation").put("direction", "Right").put("max_length", 4).put("strategy", "LongestFirst")
                .put("stride", 0);
        try (HfTokenizer t = load("long", truncating, Map.of("tokenizer_config.json", "{\"model_max_length\": 8}"))) {
            assertEquals(2000, t.encode("hello ".repeat(1000), false).length);
        }
    }

    // ---- errors

    @Test
    void missingOrMalformedFilesAreNamed() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        NoSuchFileException missing = assertThrows(NoSuchFileException.class, () -> HfTokenizer.load(empty, TokenizerHints.NONE));
        assertTrue(missing.getMessage().contains("tokenizer.json"), missing.getMessage());

        Path broken = dir(tmp, "broken", null, Map.of("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}"));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(broken, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("not valid JSON"), e.getMessage());

        ObjectNode bogus = gpt2();
        ((ObjectNode) bogus.get("model")).put("type", "NoSuchModel");
        Path rejected = dir(tmp, "rejected", bogus, Map.of());
        e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(rejected, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("rejects"), e.getMessage());

        Path noVocab = dir(tmp, "novocab", null, Map.of("tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}"));
        e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(noVocab, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("vocab"), e.getMessage());

        Path badConfig = dir(tmp, "badconfig", gpt2(), Map.of("tokenizer_config.json", "{\"eos_token\": 5}"));
        e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(badConfig, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("eos_token"), e.getMessage());

        Path notJson = dir(tmp, "notjson", gpt2(), Map.of("tokenizer_config.json", "{oops"));
        e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(notJson, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());

        Path badGen = dir(tmp, "badgen", gpt2(), Map.of("generation_config.json", "{\"eos_token_id\": \"x\"}"));
        e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(badGen, TokenizerHints.NONE));
        assertTrue(e.getMessage().contains("generation_config.json") && e.getMessage().contains("eos_token_id"), e.getMessage());
    }

    @Test
    void decodeRejectsIdsOutOfRange() throws Exception {
        try (HfTokenizer t = load("range", gpt2(), Map.of())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {1, 265}, false));
            assertTrue(e.getMessage().contains("265"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-3}, true));
            assertTrue(e.getMessage().contains("-3"), e.getMessage());
            Tokenizer.IncrementalDecoder d = t.incremental(false);
            assertThrows(IllegalArgumentException.class, () -> d.next(999));
            assertEquals("hello", d.next(G_HELLO));   // the bad id was not taken
            assertNull(t.idToToken(265));
        }
    }

    @Test
    void safeFromSeveralThreads() throws Exception {
        try (HfTokenizer t = load("threads", llama2(), Map.of())) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int k = 0; k < 32; k++) {
                    String s = TRICKY[k % TRICKY.length];
                    results.add(pool.submit(() -> t.decode(t.encode(s, true), true).equals(s)));
                }
                for (Future<Boolean> f : results) assertTrue(f.get());
            } finally {
                pool.shutdown();
            }
        }
    }
}
