package dev.braindrip.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.generate.TokenLogprob;
import dev.braindrip.model.Session;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * braindrip generate (CLI.md): batch generation over a JSONL file of prompts, in continuous
 * batches. The whole file is read and checked first; a line that cannot run gets an error line in
 * its place and the rest still runs (exit code 1).
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Batch generation: one JSON object per line with 'id' and one of 'prompt', 'tokens' or 'messages', plus optional "
                + "vLLM SamplingParams fields; one output line per input line, in input order.")
public final class GenerateCommand implements Callable<Integer> {
    static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    CommonOptions common;

    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo'.")
    String model;

    @Option(names = "--prompts", required = true, paramLabel = "FILE.jsonl", description = "Prompts, one JSON object per line.")
    Path prompts;

    @Option(names = "--out", paramLabel = "FILE.jsonl", description = "Output file (default: stdout).")
    Path out;

    @Option(names = "--batch-size", defaultValue = "64", paramLabel = "N", description = "Sequences decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-tokens", defaultValue = "128", paramLabel = "N", description = "Tokens to generate per line (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "1", paramLabel = "T", description = "0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "-1", paramLabel = "K", description = "Keep the K most likely ids; 0 or -1: off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P", description = "Nucleus sampling (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--min-p", defaultValue = "0", paramLabel = "P", description = "Min-p sampling (default: ${DEFAULT-VALUE}).")
    float minP;

    @Option(names = "--repetition-penalty", defaultValue = "1", paramLabel = "R", description = "(default: ${DEFAULT-VALUE}: off).")
    float repetitionPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0", paramLabel = "P", description = "(default: ${DEFAULT-VALUE}: off).")
    float presencePenalty;

    @Option(names = "--frequency-penalty", defaultValue = "0", paramLabel = "F", description = "(default: ${DEFAULT-VALUE}: off).")
    float frequencyPenalty;

    @Option(names = "--stop", paramLabel = "TEXT", description = "A stop string (repeatable).")
    List<String> stop;

    @Option(names = "--ignore-eos", description = "Keep generating past the model's EOS.")
    boolean ignoreEos;

    @Option(names = "--logprobs", defaultValue = "0", paramLabel = "N", description = "Report the N most likely ids per generated token (default: none).")
    int logprobs;

    @Option(names = "--streaming", paramLabel = "SINKS,WINDOW",
            description = "StreamingLLM: keep the first SINKS and the last WINDOW tokens of each sequence in its cache (any RoPE model).")
    String streaming;

    @Option(names = "--kv-budget", paramLabel = "BYTES", description = "KV-cache memory for all sequences, e.g. 2G or 512M (default: 4G).")
    String kvBudget;

    /** One input line: its parsed request, or the reason it cannot run. */
    private record Line(int number, JsonNode id, Prompt prompt, SamplingParams params, String error) {}

    @Override
    public Integer call() throws Exception {
        Session.Streaming stream = parseStreaming(streaming);
        long budget = kvBudget == null ? GeneratorOptions.DEFAULT_KV_BUDGET : parseBytes(kvBudget);
        if (batchSize < 1) throw new IllegalArgumentException("usage: --batch-size must be >= 1, got " + batchSize);
        SamplingParams defaults;
        try {
            defaults = SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topK(topK).topP(topP).minP(minP)
                    .repetitionPenalty(repetitionPenalty).presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty)
                    .stop(stop == null ? List.of() : stop).ignoreEos(ignoreEos).logprobs(logprobs).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: --" + e.getMessage().replaceFirst("^(\\w+)", "$1").replace('_', '-'));
        }
        List<Line> lines = read(prompts, defaults, common.seed);
        long t0 = System.nanoTime();
        Device device = common.device();
        int failed = 0;
        try (Transformer m = ModelArg.load(model, device, common.dtype(device))) {
            // encode every line first: a line that cannot run becomes an error line, the rest size the cache
            List<int[]> ids = new ArrayList<>();
            List<String> errors = new ArrayList<>();
            int longest = 1;
            GeneratorOptions base = GeneratorOptions.defaults().maxBatch(batchSize).kvBudgetBytes(budget).streaming(stream).seed(common.seed);
            try (dev.braindrip.io.tokenizer.Tokenizer tok = Generator.tokenizerOf(m)) {
                for (Line l : lines) {
                    if (l.error() != null) {
                        ids.add(null);
                        errors.add(l.error());
                        continue;
                    }
                    try {
                        int[] p = encode(m, tok, l.prompt());
                        ids.add(p);
                        errors.add(null);
                        longest = (int) Math.min(Integer.MAX_VALUE, Math.max(longest, (long) p.length + l.params().maxTokens()));
                    } catch (RuntimeException e) {
                        ids.add(null);
                        errors.add(Main.oneLine(e));
                    }
                }
                GeneratorOptions opts = base.maxSequenceLength(Math.min(longest, m.config().maxPositions()));
                try (Generator g = new Generator(m, tok, opts); Writer w = output()) {
                    List<Prompt> ps = new ArrayList<>();
                    List<SamplingParams> pp = new ArrayList<>();
                    for (int i = 0; i < lines.size(); i++) {
                        if (errors.get(i) != null) continue;
                        ps.add(Prompt.tokens(ids.get(i)));
                        pp.add(lines.get(i).params());
                    }
                    Iterator<CompletableFuture<Completion>> submitted = g.submitAll(ps, pp, null).iterator(); // one batch: admitted together
                    List<CompletableFuture<Completion>> fs = new ArrayList<>();
                    for (int i = 0; i < lines.size(); i++) fs.add(errors.get(i) != null ? null : submitted.next());
                    boolean text = g.tokenizer() != null;
                    try (ProgressBar bar = progress(lines.size())) {
                        for (int i = 0; i < lines.size(); i++) {
                            Line l = lines.get(i);
                            ObjectNode o = JSON.createObjectNode();
                            o.set("id", l.id());
                            String err = errors.get(i);
                            Completion c = null;
                            if (err == null) {
                                try {
                                    c = Generator.await(fs.get(i));
                                } catch (RuntimeException e) {
                                    err = Main.oneLine(e);
                                }
                            }
                            if (c == null) {
                                o.put("error", "line " + l.number() + ": " + err);
                                failed++;
                            } else {
                                write(o, c, text);
                            }
                            w.write(JSON.writeValueAsString(o));
                            w.write('\n');
                            w.flush();
                            if (bar != null) bar.step();
                        }
                    }
                    Generator.Stats s = g.stats();
                    double wall = (System.nanoTime() - t0) / 1e9;
                    System.err.printf(Locale.ROOT, "braindrip: %d sequences, %d prompt tokens (%.1f tok/s), %d generated tokens (%.1f tok/s), %.2f s%n",
                            lines.size() - failed, s.promptTokens(), rate(s.promptTokens(), s.prefillSeconds()), s.generatedTokens(),
                            rate(s.generatedTokens(), s.decodeSeconds() + s.prefillSeconds()), wall);
                }
            }
        }
        return failed > 0 ? 1 : 0;
    }

    private static double rate(long n, double seconds) {
        return seconds > 0 ? n / seconds : 0;
    }

    private static int[] encode(Transformer m, dev.braindrip.io.tokenizer.Tokenizer tok, Prompt p) {
        int[] ids = Generator.encode(p, tok, m.config().vocabSize());
        if (ids.length > m.config().maxPositions()) {
            throw new IllegalArgumentException("prompt: " + ids.length + " tokens, more than the model's context (max_position_embeddings "
                    + m.config().maxPositions() + ")");
        }
        return ids;
    }

    private void write(ObjectNode o, Completion c, boolean text) {
        if (text) o.put("text", c.text());
        ArrayNode t = o.putArray("tokens");
        for (int id : c.tokens()) t.add(id);
        o.put("finish_reason", c.finishReason().label());
        o.put("prompt_tokens", c.promptTokens());
        o.put("generated_tokens", c.generatedTokens());
        if (!c.logprobs().isEmpty()) {
            ArrayNode lps = o.putArray("logprobs");
            for (TokenLogprob lp : c.logprobs()) {
                ObjectNode e = lps.addObject();
                e.put("token", lp.token());
                e.put("logprob", lp.logprob());
                ArrayNode top = e.putArray("top");
                for (int k = 0; k < lp.topIds().length; k++) top.addArray().add(lp.topIds()[k]).add(lp.topLogprobs()[k]);
            }
        }
    }

    private Writer output() throws IOException {
        if (out == null) return new BufferedWriter(new OutputStreamWriter(new java.io.FilterOutputStream(System.out) {
            @Override
            public void close() throws IOException {
                flush(); // stdout stays open
            }
        }, StandardCharsets.UTF_8));
        return Files.newBufferedWriter(out, StandardCharsets.UTF_8);
    }

    private static ProgressBar progress(int n) {
        if (System.console() == null) return null;
        return new ProgressBarBuilder().setTaskName("generate").setInitialMax(n).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).setUnit(" seq", 1).build();
    }

    // ---------------------------------------------------------------- the input file

    /** Reads and checks the whole file: bad JSON or a line with no prompt stops the run (naming the line); field errors become error lines. */
    static List<Line> read(Path file, SamplingParams defaults, long seed) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "prompts file not found");
        List<Line> out = new ArrayList<>();
        int number = 0;
        for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            number++;
            if (raw.isBlank()) continue;
            JsonNode n;
            try {
                n = JSON.readTree(raw);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(file + ": line " + number + " is not valid JSON (" + e.getOriginalMessage() + ")");
            }
            if (n == null || !n.isObject()) throw new IllegalArgumentException(file + ": line " + number + " is not a JSON object");
            if (!n.has("prompt") && !n.has("tokens") && !n.has("messages")) {
                throw new IllegalArgumentException(file + ": line " + number + " has none of 'prompt', 'tokens' and 'messages'");
            }
            JsonNode id = n.has("id") ? n.get("id") : com.fasterxml.jackson.databind.node.NullNode.getInstance();
            try {
                out.add(new Line(number, id, prompt(n), params(n, defaults, seed + out.size()), null));
            } catch (IllegalArgumentException e) {
                out.add(new Line(number, id, null, null, Main.oneLine(e)));
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no prompts (the file has no JSON lines)");
        return out;
    }

    private static Prompt prompt(JsonNode n) {
        int kinds = (n.has("prompt") ? 1 : 0) + (n.has("tokens") ? 1 : 0) + (n.has("messages") ? 1 : 0);
        if (kinds > 1) throw new IllegalArgumentException("give one of 'prompt', 'tokens' and 'messages', not several");
        if (n.has("prompt")) {
            if (!n.get("prompt").isTextual()) throw new IllegalArgumentException("prompt must be a string");
            return Prompt.text(n.get("prompt").asText());
        }
        if (n.has("tokens")) {
            JsonNode t = n.get("tokens");
            if (!t.isArray() || t.isEmpty()) throw new IllegalArgumentException("tokens must be a non-empty array of token ids");
            int[] ids = new int[t.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!t.get(i).canConvertToInt() || !t.get(i).isIntegralNumber()) throw new IllegalArgumentException("tokens[" + i + "] is not a token id");
                ids[i] = t.get(i).asInt();
            }
            return Prompt.tokens(ids);
        }
        JsonNode msgs = n.get("messages");
        if (!msgs.isArray() || msgs.isEmpty()) throw new IllegalArgumentException("messages must be a non-empty array of {\"role\", \"content\"}");
        List<Map<String, Object>> list = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            if (!m.isObject() || !m.path("role").isTextual() || !m.has("content")) {
                throw new IllegalArgumentException("messages[" + i + "] must be an object with a string 'role' and a 'content'");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> map = JSON.convertValue(m, Map.class);
            list.add(map);
        }
        return Prompt.chat(list);
    }

    private static SamplingParams params(JsonNode n, SamplingParams d, long lineSeed) {
        SamplingParams.Builder b = d.toBuilder();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            JsonNode v = n.get(f);
            switch (f) {
                case "id", "prompt", "tokens", "messages" -> { }
                case "max_tokens" -> b.maxTokens(integer(f, v));
                case "temperature" -> b.temperature(number(f, v));
                case "top_k" -> b.topK(integer(f, v));
                case "top_p" -> b.topP(number(f, v));
                case "min_p" -> b.minP(number(f, v));
                case "repetition_penalty" -> b.repetitionPenalty(number(f, v));
                case "presence_penalty" -> b.presencePenalty(number(f, v));
                case "frequency_penalty" -> b.frequencyPenalty(number(f, v));
                case "ignore_eos" -> {
                    if (!v.isBoolean()) throw new IllegalArgumentException("ignore_eos must be true or false");
                    b.ignoreEos(v.asBoolean());
                }
                case "seed" -> {
                    if (!v.isIntegralNumber() || !v.canConvertToLong()) throw new IllegalArgumentException("seed must be an integer");
                    b.seed(v.asLong());
                }
                case "logprobs" -> b.logprobs(integer(f, v));
                case "stop" -> {
                    List<String> s = new ArrayList<>();
                    if (v.isTextual()) {
                        s.add(v.asText());
                    } else if (v.isArray()) {
                        for (JsonNode e : v) {
                            if (!e.isTextual()) throw new IllegalArgumentException("stop must be a string or a list of strings");
                            s.add(e.asText());
                        }
                    } else {
                        throw new IllegalArgumentException("stop must be a string or a list of strings");
                    }
                    b.stop(s);
                }
                case "stop_token_ids" -> {
                    if (!v.isArray()) throw new IllegalArgumentException("stop_token_ids must be a list of token ids");
                    List<Integer> s = new ArrayList<>();
                    for (JsonNode e : v) s.add(integer("stop_token_ids", e));
                    b.stopTokenIds(s);
                }
                default -> throw new IllegalArgumentException("unknown field '" + f + "'");
            }
        }
        if (!n.has("seed")) b.seed(lineSeed);
        return b.build();
    }

    private static int integer(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new IllegalArgumentException(field + " must be an integer, got " + v);
        return v.asInt();
    }

    private static float number(String field, JsonNode v) {
        if (!v.isNumber()) throw new IllegalArgumentException(field + " must be a number, got " + v);
        return (float) v.asDouble();
    }

    static Session.Streaming parseStreaming(String s) {
        if (s == null) return null;
        String[] p = s.split(",");
        try {
            if (p.length != 2) throw new NumberFormatException();
            return new Session.Streaming(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("usage: --streaming takes SINKS,WINDOW (two integers, e.g. 4,1020), got '" + s + "'");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: --" + e.getMessage());
        }
    }

    static long parseBytes(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mul = 1;
        if (t.endsWith("B")) t = t.substring(0, t.length() - 1);
        if (t.endsWith("K")) mul = 1L << 10;
        else if (t.endsWith("M")) mul = 1L << 20;
        else if (t.endsWith("G")) mul = 1L << 30;
        else if (t.endsWith("T")) mul = 1L << 40;
        if (mul > 1) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) throw new NumberFormatException();
            return (long) (v * mul);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("usage: --kv-budget takes a size in bytes such as 2G, 512M or 1000000, got '" + s + "'");
        }
    }
}
