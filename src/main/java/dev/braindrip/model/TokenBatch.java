package dev.braindrip.model;

/** Rows of token ids of different lengths, packed one after another (no padding). */
public final class TokenBatch {
    private final int[][] rows;
    private final int[] offsets;

    private TokenBatch(int[][] rows) {
        if (rows == null || rows.length == 0) throw new IllegalArgumentException("token batch: no rows");
        this.rows = new int[rows.length][];
        this.offsets = new int[rows.length + 1];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r] == null || rows[r].length == 0) throw new IllegalArgumentException("token batch: row " + r + " is empty");
            this.rows[r] = rows[r].clone();
            offsets[r + 1] = Math.addExact(offsets[r], rows[r].length);
        }
    }

    public static TokenBatch of(int[]... rows) {
        return new TokenBatch(rows);
    }

    public int rows() {
        return rows.length;
    }

    public int length(int r) {
        return rows[r].length;
    }

    public int offset(int r) {
        return offsets[r];
    }

    /** Prefix sums (rows + 1). */
    public int[] offsets() {
        return offsets.clone();
    }

    public int totalTokens() {
        return offsets[rows.length];
    }

    public int maxLength() {
        int m = 0;
        for (int[] r : rows) m = Math.max(m, r.length);
        return m;
    }

    public int[] row(int r) {
        return rows[r].clone();
    }

    /** All ids, packed. */
    public int[] packed() {
        int[] out = new int[totalTokens()];
        for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, out, offsets[r], rows[r].length);
        return out;
    }

    /** Each token's position in its own row. */
    public int[] positions() {
        int[] out = new int[totalTokens()];
        for (int r = 0; r < rows.length; r++) for (int i = 0; i < rows[r].length; i++) out[offsets[r] + i] = i;
        return out;
    }
}
