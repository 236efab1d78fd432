package dev.braindrip.generate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.Transformer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The batch-generation line format of CLI.md ({@code braindrip generate}), shared by the CLI and
 * the Spark job so that both read the same requests and write the same rows: one JSON object per
 * line with {@code id} and one of {@code prompt}, {@code tokens} or {@code messages}, plus vLLM
 * SamplingParams fields; one output row per line ({@code id, text, tokens, finish_reason,
 * prompt_tokens, generated_tokens[, logprobs]}) or {@code {"id", "error": "line N: ..."}}.
 *
 * <p>Seeds: a line without {@code seed} gets {@code seed + index}, its index among the file's
 * JSON lines (blank lines do not count), so a line's output depends only on the line, its index
 * and the defaults, never on the lines around it.
 */
public final class JsonlBatch {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonlBatch() {}

    /**
     * One input line: its number in the file (1-based, blank lines counted), its index among the
     * JSON lines (the seed offset), its id (JSON null when absent), and its request, or the reason
     * it cannot run ({@code prompt} and {@code params} null).
     */
    public record Line(long number, long index, JsonNode id, Prompt prompt, SamplingParams params, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    /** A line that is not a request at all (not JSON, not an object, or none of prompt, tokens and messages); its message names no line. */
    public static final class MalformedLineException extends IllegalArgumentException {
        public MalformedLineException(String message) {
            super(message);
        }
    }

    /** True for a line the format skips (blank). */
    public static boolean isBlank(String raw) {
        return raw == null || raw.isBlank();
    }

    /**
     * Parses one non-blank line. A malformed line throws {@link MalformedLineException} ("is not
     * valid JSON (...)", "is not a JSON object", "has none of 'prompt', 'tokens' and 'messages'");
     * a well-formed line whose fields cannot run comes back with its error.
     */
    public static Line parse(String raw, long number, long index, SamplingParams defaults, long seed) {
        JsonNode n;
        try {
            n = JSON.readTree(raw);
        } catch (JsonProcessingException e) {
            throw new MalformedLineException("is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (n == null || !n.isObject()) throw new MalformedLineException("is not a JSON object");
        if (!n.has("prompt") && !n.has("tokens") && !n.has("messages")) {
            throw new MalformedLineException("has none of 'prompt', 'tokens' and 'messages'");
        }
        JsonNode id = n.has("id") ? n.get("id") : NullNode.getInstance();
        try {
            return new Line(number, index, id, prompt(n), params(n, defaults, seed + index), null);
        } catch (IllegalArgumentException e) {
            return new Line(number, index, id, null, null, oneLine(e));
        }
    }

    /**
     * Like {@link #parse} but a malformed line becomes an error line too (id null: the line has
     * none that can be read), for callers that must not stop on one bad line.
     */
    public static Line parseLenient(String raw, long number, long index, SamplingParams defaults, long seed) {
        try {
            return parse(raw, number, index, defaults, seed);
        } catch (MalformedLineException e) {
            JsonNode id = NullNode.getInstance();
            try {
                JsonNode n = JSON.readTree(raw);
                if (n != null && n.isObject() && n.has("id")) id = n.get("id");
            } catch (JsonProcessingException ignored) {
                // not JSON: no id
            }
            return new Line(number, index, id, null, null, e.getMessage());
        }
    }

    /** The line with an error in place of its request. */
    public static Line failed(Line l, String error) {
        return new Line(l.number(), l.index(), l.id(), null, null, error);
    }

    /**
     * The prompt ids of a line, as the CLI checks them before generation: through the tokenizer
     * (null: ids only), every id in the vocabulary, at most the model's context.
     */
    public static int[] encode(Transformer model, Tokenizer tokenizer, Prompt p) {
        int[] ids = Generator.encode(p, tokenizer, model.config().vocabSize());
        if (ids.length > model.config().maxPositions()) {
            throw new IllegalArgumentException("prompt: " + ids.length + " tokens, more than the model's context (max_position_embeddings "
                    + model.config().maxPositions() + ")");
        }
        return ids;
    }

    /** The output row of a completion; {@code text}: whether the model reads text (it has a tokenizer or is byte-level). */
    public static ObjectNode row(JsonNode id, Completion c, boolean text) {
        ObjectNode o = JSON.createObjectNode();
        o.set("id", id);
        if (text) o.put("text", c.text());
        ArrayNode t = o.putArray("tokens");
        for (int tok : c.tokens()) t.add(tok);
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
        return o;
    }

    /** The row of a line that cannot run: {@code {"id": ..., "error": "line N: ..."}}. */
    public static ObjectNode errorRow(JsonNode id, long number, String error) {
        ObjectNode o = JSON.createObjectNode();
        o.set("id", id);
        o.put("error", "line " + number + ": " + error);
        return o;
    }

    /** A row as one JSON line (no newline). */
    public static String toJson(JsonNode row) {
        try {
            return JSON.writeValueAsString(row);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An exception's message on one line (its class name when it has none). */
    public static String oneLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) m = t.getClass().getSimpleName();
        return m.replace('\n', ' ').replace('\r', ' ');
    }

    // ---------------------------------------------------------------- fields

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
}
