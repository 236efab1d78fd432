package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The packed layout of {@link TokenBatch}: row r occupies [offset(r), offset(r) + length(r)). */
class TokenBatchTest {

    @Test
    void packsRowsBackToBack() {
        TokenBatch b = TokenBatch.of(new int[] {5}, new int[] {1, 2, 3, 4, 5, 6, 7}, new int[] {9, 8, 7});
        assertEquals(3, b.rows());
        assertEquals(11, b.totalTokens());
        assertEquals(1, b.length(0));
        assertEquals(7, b.length(1));
        assertEquals(3, b.length(2));
        assertEquals(0, b.offset(0));
        assertEquals(1, b.offset(1));
        assertEquals(8, b.offset(2));
        assertArrayEquals(new int[] {5}, b.row(0));
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7}, b.row(1));
        assertArrayEquals(new int[] {9, 8, 7}, b.row(2));
    }

    @Test
    void copiesItsInput() {
        int[] row = {1, 2, 3};
        TokenBatch b = TokenBatch.of(row);
        row[0] = 99;
        assertArrayEquals(new int[] {1, 2, 3}, b.row(0), "TokenBatch.of must not alias the caller's array");
    }

    @Test
    void rejectsNoRowsAndEmptyRows() {
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> TokenBatch.of());
        assertTrue(none.getMessage() != null && !none.getMessage().isBlank(), "no rows: message");
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> TokenBatch.of(new int[] {1}, new int[0]));
        assertTrue(empty.getMessage() != null && empty.getMessage().contains("1"),
                "empty row: message should name row 1: " + empty.getMessage());
        // null: IllegalArgumentException or NullPointerException, either is fine
        RuntimeException n1 = assertThrows(RuntimeException.class, () -> TokenBatch.of((int[][]) null));
        assertTrue(n1 instanceof IllegalArgumentException || n1 instanceof NullPointerException, n1.toString());
        RuntimeException n2 = assertThrows(RuntimeException.class, () -> TokenBatch.of(new int[] {1}, null));
        assertTrue(n2 instanceof IllegalArgumentException || n2 instanceof NullPointerException, n2.toString());
    }
}
