package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** One test per way a file can be malformed: the exception type and what its message says. */
class SafeTensorsMalformedTest {
    private static final String W = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @TempDir
    Path dir;

    private SafeTensorsFormatException rejected(byte[] bytes, String... fragments) throws IOException {
        Path file = RawFiles.write(dir, "model.safetensors", bytes);
        SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.open(file));
        assertTrue(e.getMessage().startsWith("model.safetensors: "), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + f + "' not in: " + e.getMessage());
        }
        return e;
    }

    private SafeTensorsFormatException rejectedHeader(String json, int dataBytes, String... fragments)
            throws IOException {
        return rejected(RawFiles.file(json, new byte[dataBytes]), fragments);
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        rejected(new byte[5], "file is 5 bytes, shorter than the 8-byte header length");
        rejected(new byte[0], "file is 0 bytes");
    }

    @Test
    void headerLengthZero() throws IOException {
        rejected(RawFiles.file(0, new byte[0], new byte[16]), "header length is 0");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        byte[] json = W.getBytes(StandardCharsets.UTF_8);
        rejected(RawFiles.file(json.length + 9, json, new byte[8]), "header length " + (json.length + 9),
                "runs past the end of the file (" + (8 + json.length + 8) + " bytes)");
    }

    @Test
    void headerLengthOverLimit() throws IOException {
        byte[] json = W.getBytes(StandardCharsets.UTF_8);
        rejected(RawFiles.file(100_000_001L, json, new byte[8]), "header length 100000001 exceeds the limit");
        rejected(RawFiles.file(-1L, json, new byte[8]), "header length 18446744073709551615 exceeds the limit");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        SafeTensorsFormatException e = rejected(RawFiles.file(header.length, header, new byte[0]),
                "header is not valid UTF-8");
        assertEquals(null, e.tensor());
    }

    @Test
    void headerNotJson() throws IOException {
        rejectedHeader("{\"w\":{\"dtype\":", 0, "header is not valid JSON");
        rejectedHeader("{\"w\" 1}", 0, "header is not valid JSON", "line 1");
        rejectedHeader("{} {}", 0, "header is not valid JSON");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "\"w\"", "12", "null", "true", "        "})
    void topLevelNotAnObject(String json) throws IOException {
        rejectedHeader(json, 0, "header must be a JSON object, found ");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        String json = "{" + entry("w", "\"F32\"", "[1]", "[0,4]") + "," + entry("w", "\"F32\"", "[1]", "[4,8]") + "}";
        rejectedHeader(json, 8, "header is not valid JSON", "Duplicate", "w");
    }

    @Test
    void entryNotAnObject() throws IOException {
        SafeTensorsFormatException e = rejectedHeader("{\"w\":[1,2]}", 0,
                "model.safetensors: tensor 'w': entry must be an object, found array");
        assertEquals("w", e.tensor());
    }

    @ParameterizedTest
    @ValueSource(strings = {"dtype", "shape", "data_offsets"})
    void missingField(String field) throws IOException {
        String json = W.replace("\"" + field + "\"", "\"other\"");
        rejectedHeader(json, 8, "tensor 'w': missing field '" + field + "'");
    }

    @Test
    void dtypeNotAString() throws IOException {
        rejectedHeader("{" + entry("w", "32", "[2]", "[0,8]") + "}", 8, "tensor 'w': dtype must be a string, found number");
    }

    @Test
    void unknownDtype() throws IOException {
        rejectedHeader("{" + entry("w", "\"F128\"", "[2]", "[0,8]") + "}", 8, "tensor 'w': unknown dtype 'F128'");
        rejectedHeader("{" + entry("w", "\"f32\"", "[2]", "[0,8]") + "}", 8, "unknown dtype 'f32'");
    }

    @Test
    void shapeNotAnArrayOfIntegers() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "\"2\"", "[0,8]") + "}", 8, "tensor 'w': shape must be an array");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2.0]", "[0,8]") + "}", 8, "shape[0] must be an integer");
        rejectedHeader("{" + entry("w", "\"F32\"", "[1,\"2\"]", "[0,8]") + "}", 8, "shape[1] must be an integer");
        rejectedHeader("{" + entry("w", "\"F32\"", "[null]", "[0,8]") + "}", 8, "shape[0] must be an integer");
    }

    @Test
    void negativeShapeDimension() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[2,-1]", "[0,8]") + "}", 8, "tensor 'w': shape[1] is -1, outside 0..");
    }

    @Test
    void shapeDimensionBeyondLong() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[99999999999999999999]", "[0,8]") + "}", 8,
                "shape[0] is 99999999999999999999, outside 0..");
    }

    @Test
    void elementCountOverflow() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[4294967296,4294967296]", "[0,8]") + "}", 8,
                "tensor 'w': shape [4294967296, 4294967296] has more than 9223372036854775807 elements");
    }

    @Test
    void byteSizeOverflow() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[4611686018427387904]", "[0,8]") + "}", 8,
                "tensor 'w': shape [4611686018427387904] of F32 has no byte size");
    }

    @Test
    void packedTypeNotWholeBytes() throws IOException {
        rejectedHeader("{" + entry("w", "\"F4\"", "[3]", "[0,2]") + "}", 2, "of F4 has no byte size", "not whole bytes");
    }

    @Test
    void dataOffsetsNotTwoIntegers() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0]") + "}", 8,
                "tensor 'w': data_offsets must be an array of two integers [begin, end], found an array of 1");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0,4,8]") + "}", 8, "found an array of 3");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "{\"a\":0}") + "}", 8, "found object");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0,\"8\"]") + "}", 8, "data_offsets[1] must be an integer");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0,8.5]") + "}", 8, "data_offsets[1] must be an integer");
    }

    @Test
    void dataOffsetsNegativeOrHuge() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[-8,0]") + "}", 8, "data_offsets[0] is -8, outside 0..");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0,1e30]") + "}", 8, "data_offsets[1] must be an integer");
        rejectedHeader("{" + entry("w", "\"F32\"", "[2]", "[0,18446744073709551616]") + "}", 8,
                "data_offsets[1] is 18446744073709551616, outside 0..");
    }

    @Test
    void dataOffsetsBeginAfterEnd() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[0]", "[8,0]") + "}", 8, "tensor 'w': data_offsets [8, 0] begin after end");
    }

    @Test
    void sizeDisagreesWithShape() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[3]", "[0,8]") + "}", 16,
                "tensor 'w': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8");
        rejectedHeader("{" + entry("w", "\"BF16\"", "[2,2]", "[0,4]") + "}", 16, "needs 8 bytes");
    }

    @Test
    void endPastDataRegion() throws IOException {
        rejectedHeader("{" + entry("w", "\"F32\"", "[3]", "[0,12]") + "}", 8,
                "model.safetensors: tensor 'w': data_offsets [0, 12] past the end of the data region (8 bytes)");
    }

    @Test
    void overlappingTensors() throws IOException {
        String json = "{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," + entry("b", "\"F32\"", "[2]", "[4,12]") + "}";
        rejectedHeader(json, 16, "tensor 'b': data_offsets [4, 12] overlap those of tensor 'a' [0, 8]");
        String contained = "{" + entry("big", "\"U8\"", "[16]", "[0,16]") + "," + entry("s", "\"U8\"", "[2]", "[8,10]") + "}";
        rejectedHeader(contained, 16, "overlap those of tensor 'big'");
        String same = "{" + entry("a", "\"U8\"", "[4]", "[4,8]") + "," + entry("b", "\"U8\"", "[4]", "[4,8]") + "}";
        rejectedHeader(same, 16, "overlap");
    }

    @Test
    void metadataNotStringMap() throws IOException {
        rejectedHeader("{\"__metadata__\":[\"a\"]}", 0, "__metadata__ must be an object of strings, found array");
        rejectedHeader("{\"__metadata__\":{\"a\":\"x\",\"n\":3}}", 0,
                "__metadata__ value for key 'n' must be a string, found number");
        rejectedHeader("{\"__metadata__\":{\"a\":null}}", 0, "found null");
    }

    @Test
    void lenientWhereTheFormatAllows(@TempDir Path tmp) throws IOException {
        // Padding spaces, unknown extra fields, gaps between tensors, trailing bytes, empty tensors.
        String json = "{" + entry("a", "\"U8\"", "[2]", "[0,2]") + "," + entry("b", "\"U8\"", "[2]", "[4,6]")
                + "," + entry("e", "\"F32\"", "[0,5]", "[1,1]") + ",\"x\":{\"dtype\":\"U8\",\"shape\":[],"
                + "\"data_offsets\":[6,7],\"extra\":[1]}}      ";
        Path file = RawFiles.write(tmp, "ok.safetensors", RawFiles.file(json, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(java.util.List.of("a", "b", "e", "x"), st.names());
            assertEquals(5, st.buffer("b").get(0));
            assertEquals(0, st.buffer("e").remaining());
            assertEquals(1, st.info("x").numel());
        }
    }

    @Test
    void emptyHeaderObjectIsValid() throws IOException {
        Path file = RawFiles.write(dir, "empty.safetensors", RawFiles.file("{}", new byte[0]));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertTrue(st.names().isEmpty());
            assertTrue(st.metadata().isEmpty());
        }
    }
}
