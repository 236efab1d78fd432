package dev.braindrip.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Parses the JSON of safetensors headers and index files: strict UTF-8, duplicate keys rejected,
 * nothing but whitespace after the top-level value, and the top level must be an object.
 * Jackson's default stream limits (number length, nesting depth, string length) stay in force.
 */
final class StrictJson {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private StrictJson() {}

    /** Decodes {@code bytes} as UTF-8 and parses them as a JSON object. */
    static ObjectNode parseObject(String file, byte[] bytes, String what) throws SafeTensorsFormatException {
        String text = decodeUtf8(file, bytes, what);
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SafeTensorsFormatException(file, null, what + " is not valid JSON: " + describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafeTensorsFormatException(file, null,
                    what + " must be a JSON object, found " + kind(root));
        }
        return (ObjectNode) root;
    }

    /** A short name of a JSON value's type for messages: "array", "string", "number", ... */
    static String kind(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        return node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static String decodeUtf8(String file, byte[] bytes, String what) throws SafeTensorsFormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafeTensorsFormatException(file, null, what + " is not valid UTF-8", e);
        }
    }

    private static String describe(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        return e.getOriginalMessage() + where;
    }
}
