package dev.braindrip.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which tokenizer a model directory gets (CLI.md "Models on the command line"), and config.json's hints. */
class TokenizersTest {
    @TempDir
    Path tmp;

    @Test
    void tokenizerJsonMeansHuggingFace() throws Exception {
        Path d = TinyTokenizers.dir(tmp, "hf", TinyTokenizers.gpt2(), Map.of("config.json", "{\"eos_token_id\": 262}"));
        Optional<Tokenizer> t = Tokenizers.forModel(d, 50000);
        assertInstanceOf(HfTokenizer.class, t.orElseThrow());
        assertEquals(Set.of(TinyTokenizers.G_EOT), t.get().eosIds());
        t.get().close();
    }

    @Test
    void byteVocabularyWithoutTokenizerMeansBytes() throws Exception {
        Path d = TinyTokenizers.dir(tmp, "bytes", null, Map.of("config.json",
                "{\"model_type\": \"llama\", \"vocab_size\": 258, \"bos_token_id\": 256, \"eos_token_id\": [257]}"));
        Tokenizer t = Tokenizers.forModel(d, 258).orElseThrow();
        assertInstanceOf(ByteTokenizer.class, t);
        assertArrayEquals(new int[] {256, 'o', 'k'}, t.encode("ok", true));
        assertEquals(Set.of(257), t.eosIds());
    }

    @Test
    void bltOffsetFromModelType() throws Exception {
        Path d = TinyTokenizers.dir(tmp, "blt", null, Map.of("config.json",
                "{\"model_type\": \"blt\", \"vocab_size\": 260, \"bos_token_id\": 1, \"eos_token_id\": 2}"));
        TokenizerHints h = TokenizerHints.fromConfigJson(d);
        assertEquals(new TokenizerHints(1, List.of(2), 4), h);
        ByteTokenizer t = (ByteTokenizer) Tokenizers.forModel(d, 260).orElseThrow();
        assertEquals(4, t.offset());
        assertArrayEquals(new int[] {1, 'a' + 4}, t.encode("a", true));
        // BLT with 259 ids cannot hold 256 bytes from 4
        assertTrue(Tokenizers.forModel(d, 259).isEmpty());
    }

    @Test
    void smallVocabularyWithoutTokenizerTakesIdsOnly() throws Exception {
        Path d = Files.createDirectories(tmp.resolve("ids"));
        assertTrue(Tokenizers.forModel(d, 100, TokenizerHints.NONE).isEmpty());
        assertEquals(TokenizerHints.NONE, TokenizerHints.fromConfigJson(d));
    }

    @Test
    void malformedConfigIsNamed() throws Exception {
        Path d = TinyTokenizers.dir(tmp, "bad", null, Map.of("config.json", "{\"eos_token_id\": \"two\"}"));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizers.forModel(d, 300));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("eos_token_id"), e.getMessage());
        Path d2 = TinyTokenizers.dir(tmp, "bad2", null, Map.of("config.json", "[1, 2]"));
        e = assertThrows(TokenizerFormatException.class, () -> TokenizerHints.fromConfigJson(d2));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TokenizerHints(-2, List.of(), 0));
    }
}
