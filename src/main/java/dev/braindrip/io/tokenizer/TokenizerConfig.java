package dev.braindrip.io.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What transformers reads from tokenizer_config.json (and special_tokens_map.json, for the special
 * tokens tokenizer_config.json does not name): the special tokens, {@code added_tokens_decoder},
 * {@code add_bos_token} / {@code add_eos_token}, the chat template (also from chat_template.jinja or
 * chat_template.json when tokenizer_config.json has none), {@code model_max_length},
 * {@code clean_up_tokenization_spaces} and {@code tokenizer_class}. A model directory without these
 * files gets the defaults: no special tokens beyond tokenizer.json's, no template.
 */
final class TokenizerConfig {
    /** The special-token keys of transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order. */
    static final List<String> SPECIAL_KEYS = List.of(
            "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

    /** An AddedToken as transformers serializes it (a plain string gets the defaults of a special token). */
    record TokenSpec(String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized,
            boolean special) {}

    /** transformers' VERY_LARGE_INTEGER stand-in when model_max_length is absent. */
    static final long NO_MAX_LENGTH = Long.MAX_VALUE;

    final Map<String, TokenSpec> specialTokens = new LinkedHashMap<>();   // key (bos_token, ...) -> token
    final List<TokenSpec> additionalSpecialTokens = new ArrayList<>();
    final Map<Integer, TokenSpec> addedTokensDecoder = new TreeMap<>();
    Boolean addBosToken;
    Boolean addEosToken;
    String chatTemplate;
    final Map<String, String> namedTemplates = new LinkedHashMap<>();
    long modelMaxLength = NO_MAX_LENGTH;
    boolean cleanUpTokenizationSpaces;
    String tokenizerClass;

    static TokenizerConfig read(Path dir) throws IOException {
        TokenizerConfig c = new TokenizerConfig();
        Path file = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(file)) c.readConfig(TokenizerHints.readObject(file), file);
        Path map = dir.resolve("special_tokens_map.json");
        if (Files.isRegularFile(map)) c.readSpecialTokensMap(TokenizerHints.readObject(map), map);
        if (c.chatTemplate == null && c.namedTemplates.isEmpty()) c.readTemplateFiles(dir);
        return c;
    }

    private void readConfig(JsonNode root, Path file) throws TokenizerFormatException {
        for (String key : SPECIAL_KEYS) {
            TokenSpec t = token(root.get(key), key, file);
            if (t != null) specialTokens.put(key, t);
        }
        JsonNode extra = root.get("additional_special_tokens");
        if (extra != null && !extra.isNull()) additionalSpecialTokens.addAll(tokenList(extra, file));
        JsonNode decoder = root.get("added_tokens_decoder");
        if (decoder != null && !decoder.isNull()) {
            if (!decoder.isObject()) throw bad(file, "added_tokens_decoder must be an object of id -> token", decoder);
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException x) {
                    throw new TokenizerFormatException(file.toString(), "added_tokens_decoder key '" + e.getKey() + "' is not an id");
                }
                TokenSpec t = token(e.getValue(), "added_tokens_decoder." + id, file, false);
                if (t == null || !e.getValue().isObject()) {
                    throw bad(file, "added_tokens_decoder." + id + " must be an object with 'content'", e.getValue());
                }
                addedTokensDecoder.put(id, t);
            }
        }
        addBosToken = bool(root, "add_bos_token", file);
        addEosToken = bool(root, "add_eos_token", file);
        Boolean cleanUp = bool(root, "clean_up_tokenization_spaces", file);
        cleanUpTokenizationSpaces = cleanUp != null && cleanUp;
        JsonNode max = root.get("model_max_length");
        if (max != null && !max.isNull()) {
            if (!max.isNumber()) throw bad(file, "model_max_length must be a number", max);
            double v = max.asDouble();
            modelMaxLength = v >= 1e18 ? NO_MAX_LENGTH : (long) v;
        }
        JsonNode cls = root.get("tokenizer_class");
        if (cls != null && cls.isTextual()) tokenizerClass = cls.asText();
        readTemplate(root.get("chat_template"), file);
    }

    private void readSpecialTokensMap(JsonNode root, Path file) throws TokenizerFormatException {
        for (String key : SPECIAL_KEYS) {
            if (specialTokens.containsKey(key)) continue;
            TokenSpec t = token(root.get(key), key, file);
            if (t != null) specialTokens.put(key, t);
        }
        JsonNode extra = root.get("additional_special_tokens");
        if (additionalSpecialTokens.isEmpty() && extra != null && !extra.isNull()) {
            additionalSpecialTokens.addAll(tokenList(extra, file));
        }
    }

    private void readTemplate(JsonNode t, Path file) throws TokenizerFormatException {
        if (t == null || t.isNull()) return;
        if (t.isTextual()) {
            chatTemplate = t.asText();
            return;
        }
        if (!t.isArray()) throw bad(file, "chat_template must be a string or a list of {name, template}", t);
        for (JsonNode e : t) {
            JsonNode name = e.get("name");
            JsonNode body = e.get("template");
            if (name == null || !name.isTextual() || body == null || !body.isTextual()) {
                throw bad(file, "each chat_template entry must have string 'name' and 'template'", e);
            }
            namedTemplates.put(name.asText(), body.asText());
        }
        chatTemplate = namedTemplates.get("default");
    }

    private void readTemplateFiles(Path dir) throws IOException {
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            chatTemplate = Files.readString(jinja);
            return;
        }
        Path json = dir.resolve("chat_template.json");
        if (Files.isRegularFile(json)) readTemplate(TokenizerHints.readObject(json).get("chat_template"), json);
    }

    /** A token given as a string or as an AddedToken object; null when absent or null. */
    static TokenSpec token(JsonNode n, String field, Path file) throws TokenizerFormatException {
        return token(n, field, file, true);
    }

    /** As {@link #token(JsonNode, String, Path)}; an object without "special" gets {@code specialDefault}. */
    static TokenSpec token(JsonNode n, String field, Path file, boolean specialDefault) throws TokenizerFormatException {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return new TokenSpec(n.asText(), false, false, false, false, true);
        if (n.isObject() && n.get("content") != null && n.get("content").isTextual()) {
            return new TokenSpec(n.get("content").asText(), flag(n, "single_word", false), flag(n, "lstrip", false),
                    flag(n, "rstrip", false), flag(n, "normalized", !flag(n, "special", specialDefault)), flag(n, "special", specialDefault));
        }
        throw bad(file, field + " must be a string or an object with a 'content' string", n);
    }

    private static List<TokenSpec> tokenList(JsonNode n, Path file) throws TokenizerFormatException {
        if (!n.isArray()) throw bad(file, "additional_special_tokens must be a list", n);
        List<TokenSpec> out = new ArrayList<>();
        for (JsonNode e : n) out.add(token(e, "additional_special_tokens", file));
        return out;
    }

    private static boolean flag(JsonNode n, String key, boolean dflt) {
        JsonNode v = n.get(key);
        return v != null && v.isBoolean() ? v.asBoolean() : dflt;
    }

    private static Boolean bool(JsonNode root, String key, Path file) throws TokenizerFormatException {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw bad(file, key + " must be true or false", v);
        return v.asBoolean();
    }

    static TokenizerFormatException bad(Path file, String what, JsonNode found) {
        String kind = found == null ? "nothing" : found.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        return new TokenizerFormatException(file.toString(), what + ", found " + kind);
    }

    /** The special tokens as the template variables transformers passes (bos_token, ..., additional_special_tokens). */
    Map<String, Object> templateVariables() {
        Map<String, Object> out = new LinkedHashMap<>();
        specialTokens.forEach((k, t) -> out.put(k, t.content()));
        if (!additionalSpecialTokens.isEmpty()) {
            List<String> extra = new ArrayList<>();
            for (TokenSpec t : additionalSpecialTokens) extra.add(t.content());
            out.put("additional_special_tokens", extra);
        }
        return out;
    }
}
