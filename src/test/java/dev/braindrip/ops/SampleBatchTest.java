package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.braindrip.ops.SampleBatch.RowParams;
import org.junit.jupiter.api.Test;

/** The flat layout {@link SampleBatch} builds for the kernel, and the builder's checks. */
class SampleBatchTest {
    static final RowParams PEN = RowParams.builder().repetitionPenalty(1.2f).logprobs(3).build();

    @Test
    void historyIsLaidOutInRowOrderOnlyForPenalizedRows() {
        int[] outBuffer = {7, 8, 9, 0, 0}; // a growable buffer holding 3 ids
        SampleBatch b = SampleBatch.builder(3)
                .row(2, PEN, 11, new int[] {5}, null)
                .row(0, PEN, 9, new int[] {1, 2}, 2, outBuffer, 3)
                .row(1, RowParams.sampling(0.5f, 4), 10, new int[] {3, 3}, new int[] {4}) // no penalty: no history
                .build();
        int rows = 3, f = SampleBatch.FIELDS * rows;
        int[] w = b.words();
        assertArrayEquals(new int[] {1, 2, 7, 8, 9, 5}, java.util.Arrays.copyOfRange(w, f, w.length));
        long[] l = b.longs();
        assertArrayEquals(new long[] {0, 5, 5, 6}, java.util.Arrays.copyOfRange(l, SampleBatch.OFFSETS * rows, l.length), "offsets");
        assertArrayEquals(new long[] {9, 10, 11}, java.util.Arrays.copyOfRange(l, SampleBatch.STEP * rows, SampleBatch.STEP * rows + 3), "steps");
        assertEquals(2, w[SampleBatch.PROMPT * rows]);
        assertEquals(0, w[SampleBatch.PROMPT * rows + 1]);
        assertEquals(Float.floatToRawIntBits(0.5f), w[SampleBatch.TEMPERATURE * rows + 1]);
        assertEquals(3, b.maxLogprobs());
        assertEquals(0, b.logprobs(1));
        assertEquals(6, b.historyLength());
    }

    @Test
    void badRowsAreRefusedNamingTheRow() {
        SampleBatch.Builder b = SampleBatch.builder(2);
        assertEquals("sample: row 2 is outside [0, 2)",
                assertThrows(IllegalArgumentException.class, () -> b.row(2, PEN, 0, null, null)).getMessage());
        assertEquals("sample: row 0: output id -3 at position 1 is negative",
                assertThrows(IllegalArgumentException.class, () -> b.row(0, PEN, 0, new int[] {1}, new int[] {2, -3})).getMessage());
        assertEquals("sample: row 1: prompt length 4 is outside [0, 2]",
                assertThrows(IllegalArgumentException.class, () -> b.row(1, PEN, 0, new int[] {1, 2}, 4, null, 0)).getMessage());
        SampleBatch.Builder c = SampleBatch.builder(2).row(0, RowParams.GREEDY, 0, null, null);
        assertEquals("sample: row 0 is set twice",
                assertThrows(IllegalArgumentException.class, () -> c.row(0, RowParams.GREEDY, 0, null, null)).getMessage());
        assertEquals("sample: row 1 of 2 was not set", assertThrows(IllegalArgumentException.class, c::build).getMessage());
        assertThrows(IllegalArgumentException.class, () -> SampleBatch.builder(-1));
    }
}
