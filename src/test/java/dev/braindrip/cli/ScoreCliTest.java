package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.generate.ScoreResult;
import dev.braindrip.generate.Scorer;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** braindrip score (CLI.md) on a random byte-level llama with a BOS: summary, --json, --tokens, and its errors. */
class ScoreCliTest {
    private static final String TEXT = "In the beginning was the word — naïve café, ✓.\nAnd the word was scored in windows.\n";

    @TempDir
    Path tmp;
    Path model, text;

    @BeforeEach
    void model() throws Exception {
        model = tmp.resolve("m");
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny").toBuilder().bosTokenId(256).eosTokenIds(List.of(257)).build(),
                DType.F32, 11, model);
        text = Files.writeString(tmp.resolve("t.txt"), TEXT, StandardCharsets.UTF_8);
    }

    /** An encoder-decoder: a target given a source (ids), equal to Scorer.scoreTarget; the usage errors of both kinds of model. */
    @Test
    void scoresATargetGivenASource() throws Exception {
        Path t5 = tmp.resolve("t5");
        Checkpoints.writeRandom(Architectures.of("t5").preset("tiny"), DType.F32, 12, t5);
        Path json = tmp.resolve("t5.json");
        ModelCliTest.Run r = ModelCliTest.cli("score", "--model", t5.toString(), "--device", "cpu", "--source-tokens", "5,6,7,8", "--tokens",
                "9,10,11,1", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode o = new ObjectMapper().readTree(json.toFile());
        assertEquals(5, o.get("tokens").asInt()); // the start token and the 4 target ids
        assertTrue(o.get("bytes").isNull());
        try (Transformer m = Transformer.load(t5, Device.cpu(), DType.F32)) {
            ScoreResult want = Scorer.scoreTarget(m, new int[] {5, 6, 7, 8}, new int[] {9, 10, 11, 1}, -1);
            assertEquals(want.meanNll(), o.get("mean_nll").asDouble(), 1e-9);
        }
        ModelCliTest.Run noSource = ModelCliTest.cli("score", "--model", t5.toString(), "--device", "cpu", "--tokens", "9,10");
        assertEquals(2, noSource.code());
        assertTrue(noSource.err().contains("encoder-decoder") && noSource.err().contains("--source"), noSource.err());
        ModelCliTest.Run window = ModelCliTest.cli("score", "--model", t5.toString(), "--device", "cpu", "--source-tokens", "5", "--tokens", "9",
                "--window", "8");
        assertEquals(2, window.code());
        assertTrue(window.err().contains("--window and --stride"), window.err());
        ModelCliTest.Run text = ModelCliTest.cli("score", "--model", t5.toString(), "--device", "cpu", "--source", this.text.toString(), "--text",
                this.text.toString());
        assertEquals(2, text.code());
        assertTrue(text.err().contains("no tokenizer.json"), text.err());
        ModelCliTest.Run decoderOnly = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--source-tokens", "5",
                "--tokens", "9,10");
        assertEquals(2, decoderOnly.code());
        assertTrue(decoderOnly.err().contains("for encoder-decoder models"), decoderOnly.err());
        ModelCliTest.Run forward = ModelCliTest.cli("forward", "--model", model.toString(), "--device", "cpu", "--tokens", "5", "--decoder-tokens",
                "0", "--out", tmp.resolve("x.safetensors").toString());
        assertEquals(2, forward.code());
        assertTrue(forward.err().contains("--decoder-tokens is for encoder-decoder models"), forward.err());
    }

    @Test
    void scoresTextAndWritesJson() throws Exception {
        Path json = tmp.resolve("out/score.json");
        ModelCliTest.Run r = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--text", text.toString(), "--window", "24",
                "--stride", "10", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        int bytes = TEXT.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(r.out().contains("tokens:        " + (bytes + 1) + " (" + bytes + " scored)"), r.out());
        assertTrue(r.out().contains("bytes:         " + bytes), r.out());
        for (String k : List.of("mean_nll:", "perplexity:", "bits_per_byte:", "window:        24", "stride:        10")) {
            assertTrue(r.out().contains(k), k + " in\n" + r.out());
        }

        JsonNode o = new ObjectMapper().readTree(json.toFile());
        assertEquals(List.of("tokens", "bytes", "mean_nll", "perplexity", "bits_per_byte", "window", "stride"), iterate(o));
        assertEquals(bytes + 1, o.get("tokens").asInt());
        assertEquals(bytes, o.get("bytes").asInt());
        assertEquals(24, o.get("window").asInt());
        assertEquals(10, o.get("stride").asInt());
        try (Transformer m = Transformer.load(model, Device.cpu(), DType.F32)) {
            int[] ids = new int[bytes + 1];
            ids[0] = 256;
            byte[] b = TEXT.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < b.length; i++) ids[i + 1] = b[i] & 0xff;
            ScoreResult want = Scorer.builder(m).window(24).stride(10).build().score(ids, bytes);
            assertEquals(want.meanNll(), o.get("mean_nll").asDouble(), 1e-9);
            assertEquals(want.perplexity(), o.get("perplexity").asDouble(), 1e-9 * want.perplexity());
            assertEquals(want.bitsPerByte(), o.get("bits_per_byte").asDouble(), 1e-9);
        }
        double nll = o.get("mean_nll").asDouble();
        assertTrue(nll > 5 && nll < 7.5, "a near-uniform random model over 512 ids: about ln 512 = 6.24, got " + nll);
        assertEquals(Math.exp(nll), o.get("perplexity").asDouble(), 1e-9 * Math.exp(nll));
        assertEquals(nll * bytes / Math.log(2) / bytes, o.get("bits_per_byte").asDouble(), 1e-9);
    }

    /** A WordLevel tokenizer.json whose post-processor adds <s>: HF's add_special_tokens default puts the BOS first. */
    private static final String TOKENIZER_JSON = """
            {"version": "1.0", "truncation": null, "padding": null,
             "added_tokens": [
               {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
               {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
               {"id": 2, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
             "normalizer": null,
             "pre_tokenizer": {"type": "WhitespaceSplit"},
             "post_processor": {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
               "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
             "decoder": null,
             "model": {"type": "WordLevel", "unk_token": "<unk>",
               "vocab": {"<s>": 0, "</s>": 1, "<unk>": 2, "the": 3, "word": 4, "was": 5, "in": 6, "beginning": 7, "and": 8}}}
            """;

    @Test
    void textThroughTokenizerJson() throws Exception {
        Path dir = tmp.resolve("tok");
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 12, dir);
        Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
        Path words = Files.writeString(tmp.resolve("w.txt"), "in the beginning was the word and the word was\n");
        Path json = tmp.resolve("tok.json");
        ModelCliTest.Run r = ModelCliTest.cli("score", "--model", dir.toString(), "--device", "cpu", "--text", words.toString(), "--window", "6",
                "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode o = new ObjectMapper().readTree(json.toFile());
        int[] ids = {0, 6, 3, 7, 5, 3, 4, 8, 3, 4, 5};
        assertEquals(ids.length, o.get("tokens").asInt(), "BOS + 10 words");
        assertEquals(47, o.get("bytes").asInt());
        assertEquals(3, o.get("stride").asInt(), "default stride: half the window");
        try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32)) {
            ScoreResult want = Scorer.builder(m).window(6).stride(3).build().score(ids, 47);
            assertEquals(want.meanNll(), o.get("mean_nll").asDouble(), 1e-9);
            assertEquals(want.bitsPerByte(), o.get("bits_per_byte").asDouble(), 1e-9);
        }
    }

    @Test
    void tokensHaveNoBytes() throws Exception {
        Path json = tmp.resolve("ids.json");
        ModelCliTest.Run r = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--tokens", "1,2,3,4,5,6,7", "--json",
                json.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode o = new ObjectMapper().readTree(json.toFile());
        assertEquals(7, o.get("tokens").asInt());
        assertTrue(o.get("bytes").isNull() && o.get("bits_per_byte").isNull(), o.toString());
        assertEquals(512, o.get("window").asInt(), "default window: the model's context");
        assertEquals(256, o.get("stride").asInt());
        assertTrue(r.out().contains("bits_per_byte: -"), r.out());
    }

    @Test
    void errors() throws Exception {
        ModelCliTest.Run stride = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--text", text.toString(), "--window",
                "16", "--stride", "16");
        assertEquals(2, stride.code(), stride.err());
        assertTrue(stride.err().startsWith("braindrip: usage: --stride (16) must be in [1, 15]"), stride.err());
        assertEquals(1, stride.err().strip().lines().count(), stride.err());

        ModelCliTest.Run zero = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--text", text.toString(), "--stride", "0");
        assertEquals(2, zero.code(), zero.err());
        assertTrue(zero.err().contains("--stride (0)"), zero.err());

        ModelCliTest.Run window = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--text", text.toString(), "--window",
                "4096");
        assertEquals(2, window.code(), window.err());
        assertTrue(window.err().contains("--window (4096) exceeds the model's context of 512"), window.err());

        Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
        ModelCliTest.Run shortText = ModelCliTest.cli("score", "--model", model.toString(), "--device", "cpu", "--text", empty.toString());
        assertEquals(1, shortText.code(), shortText.err());
        assertTrue(shortText.err().startsWith("braindrip: ") && shortText.err().contains("1 token long; scoring needs at least 2"), shortText.err());
        assertEquals(1, shortText.err().strip().lines().count(), shortText.err());

        ModelCliTest.Run both = ModelCliTest.cli("score", "--model", model.toString(), "--text", text.toString(), "--tokens", "1,2");
        assertEquals(2, both.code(), both.err());
        ModelCliTest.Run neither = ModelCliTest.cli("score", "--model", model.toString());
        assertEquals(2, neither.code(), neither.err());

        ModelCliTest.Run missing = ModelCliTest.cli("score", "--model", model.toString(), "--text", tmp.resolve("nope.txt").toString());
        assertEquals(1, missing.code(), missing.err());
        assertTrue(missing.err().contains("nope.txt"), missing.err());
    }

    private static List<String> iterate(JsonNode o) {
        List<String> names = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
