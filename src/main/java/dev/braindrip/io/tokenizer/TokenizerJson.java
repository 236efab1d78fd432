package dev.braindrip.io.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer.json as a tree, with its vocabulary read and the changes transformers makes to the
 * backend on load applied to the tree before the Hugging Face library builds the tokenizer from it:
 * special tokens that tokenizer_config.json names are added ({@link #addTokens}, the id rule of the
 * library's {@code AddedVocabulary::add_tokens}), the post-processor is replaced when
 * {@code add_bos_token} / {@code add_eos_token} say so ({@link #setBosEosTemplate}, as
 * {@code LlamaTokenizerFast.update_post_processor}), and truncation and padding are dropped (transformers
 * encodes without them unless asked).
 */
final class TokenizerJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;
    private final String text;      // as read; passed on unchanged when nothing was changed
    private final ObjectNode root;
    private boolean changed;
    private final Map<String, Integer> vocab = new HashMap<>();          // the model's
    private final Map<String, ObjectNode> added = new LinkedHashMap<>();  // content -> added_tokens entry

    private TokenizerJson(Path file, String text, ObjectNode root) throws TokenizerFormatException {
        this.file = file;
        this.text = text;
        this.root = root;
        readVocab();
        readAddedTokens();
    }

    static TokenizerJson read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no tokenizer.json in the model directory");
        }
        JsonNode root;
        String text;
        try {
            text = Files.readString(file);
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException(file.toString(), "not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new TokenizerFormatException(file.toString(), "not UTF-8 text", e);
        }
        if (root == null || !root.isObject()) throw new TokenizerFormatException(file.toString(), "must be a JSON object");
        return new TokenizerJson(file, text, (ObjectNode) root);
    }

    private TokenizerFormatException bad(String what) {
        return new TokenizerFormatException(file.toString(), what);
    }

    private void readVocab() throws TokenizerFormatException {
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) throw bad("has no 'model' object");
        JsonNode v = model.get("vocab");
        if (v == null || v.isNull()) throw bad("model has no 'vocab'");
        if (v.isObject()) {   // BPE, WordPiece, WordLevel: token -> id
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                    throw bad("model.vocab['" + e.getKey() + "'] must be a non-negative integer id");
                }
                vocab.put(e.getKey(), e.getValue().asInt());
            }
        } else if (v.isArray()) {   // Unigram: [[piece, score], ...], id = position
            int id = 0;
            for (JsonNode e : v) {
                if (!e.isArray() || e.size() < 1 || !e.get(0).isTextual()) {
                    throw bad("model.vocab[" + id + "] must be [piece, score]");
                }
                vocab.putIfAbsent(e.get(0).asText(), id++);
            }
        } else {
            throw bad("model.vocab must be an object or a list");
        }
    }

    private void readAddedTokens() throws TokenizerFormatException {
        JsonNode a = root.get("added_tokens");
        if (a == null || a.isNull()) {
            root.putArray("added_tokens");
            changed = true;
            return;
        }
        if (!a.isArray()) throw bad("added_tokens must be a list");
        for (JsonNode t : a) {
            if (!t.isObject() || t.get("content") == null || !t.get("content").isTextual() || t.get("id") == null
                    || !t.get("id").canConvertToInt() || t.get("id").asInt() < 0) {
                throw bad("each added_tokens entry must have an 'id' and a 'content' string, found " + t);
            }
            added.put(t.get("content").asText(), (ObjectNode) t);
        }
    }

    /** The id of a token: an added token's, else the model vocabulary's; -1 when there is none. */
    int tokenToId(String content) {
        ObjectNode t = added.get(content);
        if (t != null) return t.get("id").asInt();
        return vocab.getOrDefault(content, -1);
    }

    /** Whether tokenizer.json has an added token with this content. */
    boolean hasAddedToken(String content) {
        return added.containsKey(content);
    }

    /**
     * Adds tokens as the library's {@code add_tokens} does: an existing added token of the same content
     * takes the new flags (and stays special if it was); a new one takes its vocabulary id, or the next
     * id past the vocabulary and the added tokens.
     */
    void addTokens(List<TokenizerConfig.TokenSpec> tokens) {
        ArrayNode list = (ArrayNode) root.get("added_tokens");
        for (TokenizerConfig.TokenSpec t : tokens) {
            if (t.content().isEmpty()) continue;
            ObjectNode node = added.get(t.content());
            boolean wasSpecial = node != null && node.path("special").asBoolean(false);
            if (node != null && sameFlags(node, t, wasSpecial)) continue;
            changed = true;
            if (node == null) {
                int id = tokenToId(t.content());
                if (id < 0) id = nextId();
                node = list.addObject();
                node.put("id", id).put("content", t.content());
                added.put(t.content(), node);
            }
            node.put("single_word", t.singleWord()).put("lstrip", t.lstrip()).put("rstrip", t.rstrip())
                    .put("normalized", t.normalized()).put("special", t.special() || wasSpecial);
        }
    }

    private static boolean sameFlags(ObjectNode n, TokenizerConfig.TokenSpec t, boolean wasSpecial) {
        return n.path("single_word").asBoolean(false) == t.singleWord() && n.path("lstrip").asBoolean(false) == t.lstrip()
                && n.path("rstrip").asBoolean(false) == t.rstrip() && n.path("normalized").asBoolean(true) == t.normalized()
                && wasSpecial == (t.special() || wasSpecial);
    }

    private int nextId() {
        int size = vocab.size();
        int max = -1;
        for (ObjectNode t : added.values()) max = Math.max(max, t.get("id").asInt());
        if (max < 0) return size;
        return max >= size || size == 0 ? max + 1 : size;
    }

    /** The post-processor transformers' Llama-family tokenizers build from add_bos_token / add_eos_token. */
    void setBosEosTemplate(String bos, int bosId, boolean addBos, String eos, int eosId, boolean addEos) {
        ObjectNode p = MAPPER.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        if (addBos) special(single, bos, 0);
        sequence(single, "A", 0);
        if (addEos) special(single, eos, 0);
        ArrayNode pair = p.putArray("pair");
        pair.addAll(single.deepCopy());
        if (addBos) special(pair, bos, 1);
        sequence(pair, "B", 1);
        if (addEos) special(pair, eos, 1);
        ObjectNode specials = p.putObject("special_tokens");
        if (addBos) specials.putObject(bos).put("id", bos).set("ids", MAPPER.createArrayNode().add(bosId));
        if (addBos) ((ObjectNode) specials.get(bos)).putArray("tokens").add(bos);
        if (addEos && !specials.has(eos)) {
            specials.putObject(eos).put("id", eos).set("ids", MAPPER.createArrayNode().add(eosId));
            ((ObjectNode) specials.get(eos)).putArray("tokens").add(eos);
        }
        root.set("post_processor", p);
        changed = true;
    }

    private static void special(ArrayNode a, String token, int typeId) {
        a.addObject().putObject("SpecialToken").put("id", token).put("type_id", typeId);
    }

    private static void sequence(ArrayNode a, String id, int typeId) {
        a.addObject().putObject("Sequence").put("id", id).put("type_id", typeId);
    }

    /** No truncation and no padding, as transformers encodes unless asked. */
    void dropTruncationAndPadding() {
        for (String key : new String[] {"truncation", "padding"}) {
            if (root.get(key) != null && !root.get(key).isNull()) {
                root.putNull(key);
                changed = true;
            }
        }
    }

    /** id -> token for every id the tokenizer knows (null where an id has no token). */
    String[] idToToken() {
        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        for (ObjectNode t : added.values()) size = Math.max(size, t.get("id").asInt() + 1);
        String[] out = new String[size];
        vocab.forEach((token, id) -> out[id] = token);
        added.forEach((content, t) -> out[t.get("id").asInt()] = content);
        return out;
    }

    /** The ids of the added tokens marked special. */
    boolean[] specialIds(int size) {
        boolean[] out = new boolean[size];
        for (ObjectNode t : added.values()) {
            if (t.path("special").asBoolean(false)) out[t.get("id").asInt()] = true;
        }
        return out;
    }

    /** Whether the decoder (or a step of a Sequence decoder) is of this type. */
    boolean decoderHas(String type) {
        return has(root.get("decoder"), type);
    }

    private static boolean has(JsonNode node, String type) {
        if (node == null || !node.isObject()) return false;
        if (type.equals(node.path("type").asText())) return true;
        for (JsonNode step : node.path("decoders")) if (has(step, type)) return true;
        return false;
    }

    /** The JSON to build the tokenizer from: the file's own text when nothing was changed. */
    String json() {
        if (!changed) return text;
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    Path file() {
        return file;
    }
}
