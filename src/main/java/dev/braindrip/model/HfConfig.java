package dev.braindrip.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed reads of a Hugging Face config.json: every failure names the file and the field.
 */
public final class HfConfig {
    private final JsonNode root;
    private final Path file;

    public HfConfig(JsonNode root, Path file) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException(where() + "is not a JSON object");
        this.root = root;
        this.file = file;
    }

    private String where() {
        return (file == null ? "config.json" : file.toString()) + ": ";
    }

    public JsonNode root() {
        return root;
    }

    public Path file() {
        return file;
    }

    public String modelType() {
        return string("model_type");
    }

    public boolean has(String field) {
        JsonNode n = root.get(field);
        return n != null && !n.isNull();
    }

    public JsonNode node(String field) {
        return root.get(field);
    }

    public String string(String field) {
        JsonNode n = need(field);
        if (!n.isTextual()) throw bad(field, "a string", n);
        return n.asText();
    }

    public int integer(String field) {
        return asInt(field, need(field));
    }

    public int integer(String field, int dflt) {
        return has(field) ? integer(field) : dflt;
    }

    public double number(String field) {
        JsonNode n = need(field);
        if (!n.isNumber()) throw bad(field, "a number", n);
        return n.asDouble();
    }

    public double number(String field, double dflt) {
        return has(field) ? number(field) : dflt;
    }

    public boolean bool(String field, boolean dflt) {
        if (!has(field)) return dflt;
        JsonNode n = root.get(field);
        if (!n.isBoolean()) throw bad(field, "true or false", n);
        return n.asBoolean();
    }

    /** An integer or a list of integers (eos_token_id), or empty when absent. */
    public List<Integer> ints(String field) {
        List<Integer> out = new ArrayList<>();
        if (!has(field)) return out;
        JsonNode n = root.get(field);
        if (n.isArray()) {
            for (JsonNode e : n) out.add(asInt(field, e));
        } else {
            out.add(asInt(field, n));
        }
        return out;
    }

    public List<String> strings(String field) {
        List<String> out = new ArrayList<>();
        if (!has(field)) return out;
        JsonNode n = root.get(field);
        if (!n.isArray()) throw bad(field, "a list of strings", n);
        for (JsonNode e : n) {
            if (!e.isTextual()) throw bad(field, "a list of strings", n);
            out.add(e.asText());
        }
        return out;
    }

    /** A nested object (rope_scaling), or null when absent or null. */
    public HfConfig object(String field) {
        if (!has(field)) return null;
        JsonNode n = root.get(field);
        if (!n.isObject()) throw bad(field, "an object", n);
        return new HfConfig(n, file);
    }

    private int asInt(String field, JsonNode n) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw bad(field, "an integer", n);
        return n.asInt();
    }

    private JsonNode need(String field) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) throw new IllegalArgumentException(where() + "missing field '" + field + "'");
        return n;
    }

    private IllegalArgumentException bad(String field, String want, JsonNode got) {
        return new IllegalArgumentException(where() + "field '" + field + "' must be " + want + ", got " + got);
    }

    public IllegalArgumentException error(String message) {
        return new IllegalArgumentException(where() + message);
    }

    /** A fresh object for writing a config.json. */
    public static ObjectNode newObject() {
        return Json.MAPPER.createObjectNode();
    }
}
