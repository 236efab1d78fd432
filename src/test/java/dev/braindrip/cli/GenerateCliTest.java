package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.cli.ModelCliTest.Run;
import dev.braindrip.testing.SafeTensorsFile;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** braindrip generate (CLI.md): the file check, per-line errors, output order and fields, the summary line; forward --text. */
class GenerateCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path model;
    int files;

    @BeforeEach
    void init() {
        model = tmp.resolve("tiny");
        Run r = ModelCliTest.cli("init", "--arch", "llama", "--preset", "tiny", "--seed", "7", "--out", model.toString());
        assertEquals(0, r.code(), r.err());
    }

    Path prompts(String... lines) throws Exception {
        Path p = tmp.resolve("prompts-" + (files++) + ".jsonl");
        Files.write(p, List.of(lines), StandardCharsets.UTF_8);
        return p;
    }

    static int[] argmaxChain(Transformer m, int[] prompt, int n) {
        return dev.braindrip.testing.Greedy.argmaxChain(m, prompt, n);
    }

    @Test
    void greedyBatchWithAnErrorLine() throws Exception {
        Path in = prompts(
                "{\"id\": \"a\", \"prompt\": \"In the beginning\", \"max_tokens\": 6}",
                "",
                "{\"id\": 2, \"tokens\": [5, 9, 300, 17], \"max_tokens\": 9}",
                "{\"id\": 3, \"prompt\": \"x\", \"top_p\": 1.5}",
                "{\"id\": [4], \"tokens\": [1], \"max_tokens\": 3}",
                "{\"id\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
        Path out = tmp.resolve("out.jsonl");
        Run r = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts", in.toString(), "--out", out.toString(), "--device", "cpu",
                "--batch-size", "2", "--temperature", "0", "--ignore-eos");
        assertEquals(1, r.code(), "a line that cannot run makes the exit code 1: " + r.err());
        assertTrue(r.err().matches("(?s).*braindrip: 3 sequences, 21 prompt tokens \\([0-9.]+ tok/s\\), 18 generated tokens \\([0-9.]+ tok/s\\), [0-9.]+ s\\R.*"),
                r.err());
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(5, lines.size(), "one output line per input line (the blank one has none)");
        JsonNode[] o = new JsonNode[5];
        for (int i = 0; i < 5; i++) o[i] = JSON.readTree(lines.get(i));
        assertEquals("a", o[0].get("id").asText());
        assertEquals(2, o[1].get("id").asInt());
        assertEquals("line 4: top_p must be in (0, 1], got 1.5", o[2].get("error").asText());
        assertEquals(4, o[3].get("id").get(0).asInt(), "ids are echoed as given");
        assertTrue(o[4].get("error").asText().startsWith("line 6: messages:"), o[4].toString());
        try (Transformer m = Transformer.load(model, Device.cpu(), DType.F32)) {
            byte[] raw = "In the beginning".getBytes(StandardCharsets.UTF_8);
            int[] bytes = new int[raw.length];
            for (int i = 0; i < raw.length; i++) bytes[i] = raw[i] & 0xff;
            check(o[0], argmaxChain(m, bytes, 6), bytes.length);
            check(o[1], argmaxChain(m, new int[] {5, 9, 300, 17}, 9), 4);
            check(o[3], argmaxChain(m, new int[] {1}, 3), 1);
        }
    }

    private static void check(JsonNode o, int[] want, int promptTokens) {
        int[] got = new int[o.get("tokens").size()];
        for (int i = 0; i < got.length; i++) got[i] = o.get("tokens").get(i).asInt();
        assertArrayEquals(want, got, o.toString());
        assertEquals("length", o.get("finish_reason").asText());
        assertEquals(promptTokens, o.get("prompt_tokens").asInt());
        assertEquals(want.length, o.get("generated_tokens").asInt());
        assertTrue(o.get("text").isTextual(), "a byte-level model writes text");
        assertFalse(o.has("logprobs"));
    }

    private List<JsonNode> generate(Path in, String... extra) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", model.toString(), "--prompts", in.toString(), "--device", "cpu"));
        args.addAll(List.of(extra));
        Run r = ModelCliTest.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        List<JsonNode> out = new java.util.ArrayList<>();
        for (String l : r.out().lines().toList()) out.add(JSON.readTree(l));
        return out;
    }

    /** CLI.md's seeds: a line with seed gives the same tokens wherever it sits and whatever --batch-size; one without uses --seed + its index. */
    @Test
    void seeds() throws Exception {
        String mine = "{\"id\": \"mine\", \"prompt\": \"Blessed are\", \"max_tokens\": 10, \"seed\": 1234, \"top_k\": 50}";
        String other = "{\"id\": \"o%d\", \"tokens\": [%d, 2, 3], \"max_tokens\": %d}";
        Path alone = prompts(mine);
        Path crowd = prompts(String.format(other, 0, 10, 4), String.format(other, 1, 11, 12), String.format(other, 2, 12, 2),
                mine, String.format(other, 3, 13, 7));
        JsonNode a = generate(alone, "--ignore-eos").get(0);
        JsonNode b = generate(crowd, "--ignore-eos", "--batch-size", "2").get(3);
        JsonNode c = generate(crowd, "--ignore-eos", "--batch-size", "64", "--seed", "99").get(3);
        assertEquals("mine", b.get("id").asText());
        assertEquals(a.get("tokens"), b.get("tokens"));
        assertEquals(a.get("tokens"), c.get("tokens"));
        // without a seed: line index i samples with --seed + i
        Path implicit = prompts(String.format(other, 0, 10, 9), String.format(other, 1, 11, 9));
        Path explicit = prompts("{\"id\": \"o1\", \"tokens\": [11, 2, 3], \"max_tokens\": 9, \"seed\": 6}");
        JsonNode im = generate(implicit, "--ignore-eos", "--seed", "5").get(1);
        JsonNode ex = generate(explicit, "--ignore-eos").get(0);
        assertEquals(ex.get("tokens"), im.get("tokens"));
        JsonNode shifted = generate(implicit, "--ignore-eos", "--seed", "6").get(1);
        assertFalse(shifted.get("tokens").equals(im.get("tokens")), "another --seed, other samples");
    }

    @Test
    void logprobsField() throws Exception {
        JsonNode o = generate(prompts("{\"id\": 1, \"tokens\": [1, 2], \"max_tokens\": 4, \"logprobs\": 3}"), "--ignore-eos").get(0);
        assertEquals(4, o.get("logprobs").size());
        for (int i = 0; i < 4; i++) {
            JsonNode e = o.get("logprobs").get(i);
            assertEquals(o.get("tokens").get(i).asInt(), e.get("token").asInt());
            assertTrue(e.get("logprob").asDouble() <= 0);
            assertEquals(3, e.get("top").size());
            double prev = 0;
            for (JsonNode t : e.get("top")) {
                assertTrue(t.get(1).asDouble() <= prev, "most likely first");
                prev = t.get(1).asDouble();
            }
        }
    }

    @Test
    void fileIsCheckedBeforeAnyGeneration() throws Exception {
        Path out = tmp.resolve("never.jsonl");
        Run bad = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts",
                prompts("{\"id\": 1, \"prompt\": \"ok\"}", "{\"id\": 2, \"prompt\": ").toString(), "--out", out.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().startsWith("braindrip: ") && bad.err().contains("line 2 is not valid JSON"), bad.err());
        assertFalse(Files.exists(out), "nothing is generated or written");
        Run none = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts",
                prompts("{\"id\": 1, \"prompt\": \"ok\"}", "{\"id\": 2, \"text\": \"no prompt field\"}").toString(), "--out", out.toString());
        assertEquals(1, none.code());
        assertTrue(none.err().contains("line 2 has none of 'prompt', 'tokens' and 'messages'"), none.err());
        assertFalse(Files.exists(out));
        Run opt = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts", prompts("{\"id\": 1, \"prompt\": \"ok\"}").toString(),
                "--temperature", "-2");
        assertEquals(2, opt.code(), opt.err());
        assertTrue(opt.err().contains("--temperature must be"), opt.err());
        Run streaming = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts", prompts("{\"id\": 1, \"prompt\": \"ok\"}").toString(),
                "--streaming", "4");
        assertEquals(2, streaming.code(), streaming.err());
        Run demo = ModelCliTest.cli("generate", "--model", tmp.resolve("missing").toString(), "--prompts", prompts("{\"id\": 1, \"prompt\": \"ok\"}").toString());
        assertEquals(1, demo.code());
        assertTrue(demo.err().startsWith("braindrip: ") && demo.err().lines().count() == 1, demo.err());
    }

    @Test
    void stdoutAndStreaming() throws Exception {
        Path in = prompts("{\"id\": 1, \"prompt\": \"abc\", \"max_tokens\": 40}", "{\"id\": 2, \"tokens\": [4, 5], \"max_tokens\": 3}");
        Run r = ModelCliTest.cli("generate", "--model", model.toString(), "--prompts", in.toString(), "--temperature", "0", "--ignore-eos",
                "--streaming", "2,8", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertEquals(40, JSON.readTree(lines.get(0)).get("generated_tokens").asInt(), "streaming runs past sinks + window");
        assertEquals(2, JSON.readTree(lines.get(1)).get("id").asInt());
    }

    @Test
    void forwardText() throws Exception {
        Path a = tmp.resolve("a.safetensors"), b = tmp.resolve("b.safetensors");
        Run text = ModelCliTest.cli("forward", "--model", model.toString(), "--text", "héllo", "--out", a.toString());
        assertEquals(0, text.code(), text.err());
        byte[] bytes = "héllo".getBytes(StandardCharsets.UTF_8);
        StringBuilder ids = new StringBuilder();
        for (byte x : bytes) ids.append(ids.length() == 0 ? "" : ",").append(x & 0xff);
        Run tok = ModelCliTest.cli("forward", "--model", model.toString(), "--tokens", ids.toString(), "--out", b.toString());
        assertEquals(0, tok.code(), tok.err());
        SafeTensorsFile sa = new SafeTensorsFile(a), sb = new SafeTensorsFile(b);
        assertArrayEquals(sb.shape("logits"), sa.shape("logits"));
        assertArrayEquals(sb.bytes("logits"), sa.bytes("logits"), "--text is the model's bytes");
    }

    @Test
    void unknownCommandListsTheValidOnes() {
        Run r = ModelCliTest.cli("genrate", "--model", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("braindrip: unknown command 'genrate' (one of: generate, score, forward,"), r.err());
        Run k = ModelCliTest.cli("kernel", "softmx", "--in", "a", "--out", "b");
        assertEquals(2, k.code());
        assertTrue(k.err().contains("unknown kernel op 'softmx' (one of: ") && k.err().contains("softmax"), k.err());
    }
}
