package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The generate line format shared by the CLI and the Spark job: seeds by index, defaults, errors, rows. */
class JsonlBatchTest {
    static final SamplingParams DEFAULTS = SamplingParams.builder().maxTokens(10).temperature(0.5f).build();

    @Test
    void aLineWithoutSeedGetsSeedPlusItsIndexNotItsLineNumber() {
        JsonlBatch.Line l = JsonlBatch.parse("{\"id\": \"a\", \"prompt\": \"hi\"}", 9, 4, DEFAULTS, 100);
        assertTrue(l.ok());
        assertEquals(104L, l.params().seed(), "seed + index (blank lines do not count)");
        assertEquals(9, l.number());
        assertEquals(10, l.params().maxTokens(), "the defaults fill what the line omits");
        assertEquals(0.5f, l.params().temperature());
        JsonlBatch.Line s = JsonlBatch.parse("{\"id\": 1, \"tokens\": [1, 2], \"seed\": 7, \"max_tokens\": 3}", 1, 0, DEFAULTS, 100);
        assertEquals(7L, s.params().seed(), "a line's own seed wins");
        assertEquals(3, s.params().maxTokens());
        assertEquals(2, ((Prompt.Tokens) s.prompt()).ids().length);
    }

    @Test
    void fieldErrorsComeBackWithTheLineMalformedLinesThrow() {
        JsonlBatch.Line bad = JsonlBatch.parse("{\"id\": \"x\", \"prompt\": \"p\", \"top_p\": 1.5}", 3, 2, DEFAULTS, 0);
        assertEquals("top_p must be in (0, 1], got 1.5", bad.error());
        assertEquals("x", bad.id().asText());
        assertNull(bad.params());
        assertEquals("unknown field 'colour'", JsonlBatch.parse("{\"prompt\": \"p\", \"colour\": 1}", 1, 0, DEFAULTS, 0).error());
        assertTrue(JsonlBatch.parse("{\"prompt\": \"p\"}", 1, 0, DEFAULTS, 0).id().isNull());
        assertThrows(JsonlBatch.MalformedLineException.class, () -> JsonlBatch.parse("{\"prompt\": ", 1, 0, DEFAULTS, 0));
        assertEquals("is not a JSON object",
                assertThrows(JsonlBatch.MalformedLineException.class, () -> JsonlBatch.parse("[1]", 1, 0, DEFAULTS, 0)).getMessage());
        assertEquals("has none of 'prompt', 'tokens' and 'messages'",
                assertThrows(JsonlBatch.MalformedLineException.class, () -> JsonlBatch.parse("{\"id\": 1}", 1, 0, DEFAULTS, 0)).getMessage());
    }

    @Test
    void lenientlyAMalformedLineIsAnErrorLineKeepingAnyId() {
        JsonlBatch.Line l = JsonlBatch.parseLenient("{\"id\": \"k\"}", 5, 1, DEFAULTS, 0);
        assertEquals("has none of 'prompt', 'tokens' and 'messages'", l.error());
        assertEquals("k", l.id().asText());
        JsonlBatch.Line j = JsonlBatch.parseLenient("not json", 6, 2, DEFAULTS, 0);
        assertTrue(j.error().startsWith("is not valid JSON ("), j.error());
        assertTrue(j.id().isNull());
        assertEquals("{\"id\":\"k\",\"error\":\"line 5: has none of 'prompt', 'tokens' and 'messages'\"}",
                JsonlBatch.toJson(JsonlBatch.errorRow(l.id(), l.number(), l.error())));
    }

    @Test
    void anOutputRowHasTheCliFieldsInOrder() {
        Completion c = new Completion("ab", new int[] {97, 98}, FinishReason.LENGTH, 3, List.of(new TokenLogprob(97, -1.5f, new int[] {97}, new float[] {-1.5f})));
        String row = JsonlBatch.toJson(JsonlBatch.row(com.fasterxml.jackson.databind.node.TextNode.valueOf("r"), c, true));
        assertEquals("{\"id\":\"r\",\"text\":\"ab\",\"tokens\":[97,98],\"finish_reason\":\"length\",\"prompt_tokens\":3,\"generated_tokens\":2,"
                + "\"logprobs\":[{\"token\":97,\"logprob\":-1.5,\"top\":[[97,-1.5]]}]}", row);
    }
}
