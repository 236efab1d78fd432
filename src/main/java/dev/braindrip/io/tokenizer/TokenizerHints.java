package dev.braindrip.io.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a model's config.json says about its token ids, for {@link Tokenizers#forModel}: the BOS id
 * ({@code bos_token_id}, -1 when none), the ids that end generation ({@code eos_token_id}, an
 * integer or a list) and, for a byte-level model without tokenizer files, the id of byte 0 (4 for
 * Hugging Face's BLT, whose ids 0–3 are special; else 0).
 *
 * <p>The model layer fills it from its {@code ModelConfig}; {@link #fromConfigJson} reads the raw
 * fields itself for callers that have only the directory.
 */
public record TokenizerHints(int bosId, List<Integer> eosIds, int byteOffset) {
    /** No BOS, no EOS, bytes from id 0. */
    public static final TokenizerHints NONE = new TokenizerHints(-1, List.of(), 0);

    /** The byte offset of Hugging Face's BLT (model_type "blt"). */
    public static final int BLT_BYTE_OFFSET = 4;

    public TokenizerHints {
        if (bosId < -1) throw new IllegalArgumentException("bosId (" + bosId + ") must be -1 (none) or an id");
        eosIds = List.copyOf(eosIds);
        for (int id : eosIds) {
            if (id < 0) throw new IllegalArgumentException("eos id (" + id + ") must be >= 0");
        }
        if (byteOffset < 0) throw new IllegalArgumentException("byteOffset (" + byteOffset + ") must be >= 0");
    }

    /**
     * The hints in {@code modelDir/config.json}; {@link #NONE} when there is no config.json. The
     * byte offset is {@link #BLT_BYTE_OFFSET} when {@code model_type} is "blt".
     */
    public static TokenizerHints fromConfigJson(Path modelDir) throws IOException {
        Path file = modelDir.resolve("config.json");
        if (!Files.isRegularFile(file)) return NONE;
        JsonNode root = readObject(file);
        List<Integer> bos = ids(root, "bos_token_id", file);
        if (bos.size() > 1) throw new TokenizerFormatException(file.toString(), "bos_token_id must be one integer, found a list");
        JsonNode type = root.get("model_type");
        int offset = type != null && "blt".equals(type.asText()) ? BLT_BYTE_OFFSET : 0;
        return new TokenizerHints(bos.isEmpty() ? -1 : bos.get(0), ids(root, "eos_token_id", file), offset);
    }

    static JsonNode readObject(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException(file.toString(), "not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerFormatException(file.toString(), "must be a JSON object");
        }
        return root;
    }

    /** An integer or a list of integers; empty when absent or null. */
    static List<Integer> ids(JsonNode root, String field, Path file) throws TokenizerFormatException {
        JsonNode n = root.get(field);
        List<Integer> out = new ArrayList<>();
        if (n == null || n.isNull()) return out;
        if (n.isArray()) {
            for (JsonNode e : n) out.add(id(e, field, file));
        } else {
            out.add(id(n, field, file));
        }
        return out;
    }

    private static int id(JsonNode n, String field, Path file) throws TokenizerFormatException {
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
            throw new TokenizerFormatException(file.toString(),
                    field + " must be a non-negative integer or a list of them, found " + n);
        }
        return n.asInt();
    }
}
