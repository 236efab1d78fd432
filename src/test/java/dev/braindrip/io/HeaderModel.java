package dev.braindrip.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors header as editable text pieces, for the fuzz test: a list of top-level
 * (key, value) pairs whose values are raw JSON text, and tensor entries kept as field → JSON text
 * maps so that single fields can be replaced with anything, duplicated or dropped.
 */
final class HeaderModel {
    /** One top-level member: either a tensor entry (fields non-null) or a raw JSON value. */
    static final class Member {
        String key;
        Map<String, String> fields;
        String raw;
        /** Extra {@code "key":value} text appended to a tensor entry (may repeat a field). */
        final List<String> rawFields = new ArrayList<>();

        Member(String key, Map<String, String> fields, String raw) {
            this.key = key;
            this.fields = fields;
            this.raw = raw;
        }

        Member copy() {
            Member m = new Member(key, fields == null ? null : new LinkedHashMap<>(fields), raw);
            m.rawFields.addAll(rawFields);
            return m;
        }

        String valueJson() {
            if (fields == null) {
                return raw;
            }
            StringBuilder b = new StringBuilder("{");
            fields.forEach((k, v) -> b.append(b.length() > 1 ? "," : "").append(quote(k)).append(':').append(v));
            rawFields.forEach(f -> b.append(b.length() > 1 ? "," : "").append(f));
            return b.append('}').toString();
        }
    }

    final List<Member> members = new ArrayList<>();
    byte[] data;
    String padding = "";

    /** Splits a valid file (as written by {@link SafeTensorsWriter}) into its header model and data. */
    static HeaderModel of(byte[] file) {
        try {
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) b.getLong(0);
            JsonNode root = StrictJson.MAPPER.readTree(new String(file, 8, n, StandardCharsets.UTF_8));
            HeaderModel model = new HeaderModel();
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                model.members.add(member(e.getKey(), e.getValue()));
            }
            model.data = Arrays.copyOfRange(file, 8 + n, file.length);
            return model;
        } catch (IOException e) {
            throw new IllegalArgumentException("not a valid base file", e);
        }
    }

    private static Member member(String key, JsonNode value) {
        if (key.equals("__metadata__")) {
            return new Member(key, null, value.toString());
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : value.properties()) {
            fields.put(f.getKey(), f.getValue().toString());
        }
        return new Member(key, fields, null);
    }

    HeaderModel copy() {
        HeaderModel m = new HeaderModel();
        members.forEach(x -> m.members.add(x.copy()));
        m.data = data.clone();
        m.padding = padding;
        return m;
    }

    List<Member> tensors() {
        return members.stream().filter(m -> m.fields != null).toList();
    }

    String headerJson() {
        StringBuilder b = new StringBuilder("{");
        for (Member m : members) {
            b.append(b.length() > 1 ? "," : "").append(quote(m.key)).append(':').append(m.valueJson());
        }
        return b.append('}').append(padding).toString();
    }

    byte[] toFile() {
        return RawFiles.file(headerJson(), data);
    }

    static String quote(String s) {
        try {
            return StrictJson.MAPPER.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
