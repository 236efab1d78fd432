package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@link ModelConfig} JSON: the config of every fixture round-trips through toJson / fromJson to
 * an equal record (and the same JSON), and a bad value throws IllegalArgumentException naming
 * the field.
 */
class ModelConfigJsonTest {

    @TestFactory
    Stream<DynamicTest> fixtureConfigsRoundTrip() {
        return Fixtures.all().stream().map(n -> DynamicTest.dynamicTest(n, () -> {
            ModelConfig c;
            try (Transformer t = Fixtures.load(n, Device.cpu(), DType.F32)) {
                c = t.config();
            }
            String json = c.toJson();
            ModelConfig back = ModelConfig.fromJson(json);
            assertEquals(c, back, n + ": fromJson(toJson(c)) != c; JSON:\n" + json);
            assertEquals(json, back.toJson(), n + ": toJson is not stable");
            assertEquals(c.hashCode(), back.hashCode(), n + ": hashCode");
        }));
    }

    private static ModelConfig llama() throws Exception {
        try (Transformer t = Fixtures.load("llama", Device.cpu(), DType.F32)) {
            return t.config();
        }
    }

    private static String edited(ModelConfig c, Consumer<ObjectNode> edit) throws Exception {
        ObjectNode n = (ObjectNode) Fixtures.JSON.readTree(c.toJson());
        edit.accept(n);
        return Fixtures.JSON.writeValueAsString(n);
    }

    private static void rejects(String json, String field, String what) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(json), what);
        System.out.println("  " + what + ": " + e.getMessage());
        assertTrue(e.getMessage() != null && e.getMessage().contains(field),
                what + ": message should name '" + field + "': " + e.getMessage());
    }

    @Test
    void llamaFieldsAreWhatConfigJsonSays() throws Exception {
        ModelConfig c = llama();
        assertEquals("llama", c.architecture());
        assertEquals(128, c.vocabSize());
        assertEquals(32, c.hidden());
        assertEquals(4, c.heads());
        assertEquals(2, c.kvHeads());
        assertEquals(8, c.headDim());
        assertEquals(2, c.layerCount());
    }

    @Test
    void badValuesNameTheField() throws Exception {
        ModelConfig c = llama();
        rejects(edited(c, n -> n.put("heads", 0)), "heads", "heads 0");
        rejects(edited(c, n -> n.put("kvHeads", 3)), "kvHeads", "kvHeads 3 with heads 4");
        rejects(edited(c, n -> n.put("vocabSize", -1)), "vocabSize", "vocabSize -1");
        rejects(edited(c, n -> n.put("normEps", 0.0)), "normEps", "normEps 0");
        rejects(edited(c, n -> n.remove("hidden")), "hidden", "hidden missing");
        rejects(edited(c, n -> n.putArray("layers")), "layers", "no layers");
    }

    @Test
    void wrongTypesNameTheField() throws Exception {
        ModelConfig c = llama();
        rejects(edited(c, n -> n.put("heads", "four")), "heads", "heads \"four\"");
        rejects(edited(c, n -> n.put("norm", "NOPE")), "norm", "norm NOPE");
        rejects("{not json", "model config", "not JSON");
    }
}
