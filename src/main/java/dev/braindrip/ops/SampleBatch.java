package dev.braindrip.ops;

import java.util.Arrays;
import java.util.Objects;

/**
 * The inputs of one {@link Ops#sample} call besides the logits: for every row its {@link RowParams},
 * its generation step (the Philox counter of its draw) and its token history (prompt and output ids,
 * read only when the row has a penalty). Semantics in native/include/braindrip/sample.h.
 *
 * <p>Built once per decode step by a generation engine, so it holds only flat arrays laid out as the
 * kernel reads them (one I32 and one I64 upload): no per-row objects besides the caller's params.
 *
 * <pre>{@code
 * SampleBatch batch = SampleBatch.builder(2)
 *         .row(0, RowParams.GREEDY, 0, prompt0, out0)
 *         .row(1, params1, step1, prompt1, out1)
 *         .build();
 * }</pre>
 */
public final class SampleBatch {
    /** The most top logprobs a row may ask for (the kernels' limit, BD_SAMPLE_MAX_LOGPROBS). */
    public static final int MAX_LOGPROBS = 1024;

    // The I32 words: each field's (rows) array in this order, F32 fields as their raw bits, then the
    // history ids. The I64 longs: seed (rows), step (rows), history offsets (rows + 1).
    static final int TEMPERATURE = 0, TOP_P = 1, MIN_P = 2, REPETITION = 3, PRESENCE = 4, FREQUENCY = 5, TOP_K = 6, LOGPROBS = 7,
            PROMPT = 8, FIELDS = 9;
    static final int SEED = 0, STEP = 1, OFFSETS = 2;

    /**
     * How one row is sampled (vLLM's / Hugging Face's rules; the processing order and exact semantics
     * are those of sample.h: penalties, temperature, top-k, top-p, min-p, then the draw). Validated
     * on construction: a bad value throws IllegalArgumentException naming the field.
     *
     * @param temperature       finite, ≥ 0; 0 is greedy (the argmax of the penalized logits, lower id on ties)
     * @param topK              keep the k most likely ids; ≤ 0: off
     * @param topP              keep the smallest most likely set reaching this probability, in (0, 1]; 1: off
     * @param minP              keep ids at least this times as likely as the most likely, in [0, 1]; 0: off
     * @param repetitionPenalty > 0 and finite; divides positive / multiplies negative logits of every
     *                          distinct id of prompt and output once; 1: off
     * @param presencePenalty   finite; subtracted once from the logit of every id in the output; 0: off
     * @param frequencyPenalty  finite; subtracted per occurrence in the output; 0: off
     * @param seed              the request's seed (the Philox key, all 64 bits)
     * @param logprobs          how many most likely ids (of the raw logits) to report, in [0, {@value #MAX_LOGPROBS}]
     */
    public record RowParams(float temperature, int topK, float topP, float minP, float repetitionPenalty, float presencePenalty,
                            float frequencyPenalty, long seed, int logprobs) {
        /** Greedy decoding, no penalties, no logprobs. */
        public static final RowParams GREEDY = new RowParams(0f, 0, 1f, 0f, 1f, 0f, 0f, 0L, 0);

        public RowParams {
            if (!(temperature >= 0) || Float.isInfinite(temperature)) throw invalid("temperature", temperature, "must be finite and >= 0");
            if (!(topP > 0 && topP <= 1)) throw invalid("topP", topP, "must be in (0, 1]");
            if (!(minP >= 0 && minP <= 1)) throw invalid("minP", minP, "must be in [0, 1]");
            if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
                throw invalid("repetitionPenalty", repetitionPenalty, "must be finite and > 0");
            }
            if (!Float.isFinite(presencePenalty)) throw invalid("presencePenalty", presencePenalty, "must be finite");
            if (!Float.isFinite(frequencyPenalty)) throw invalid("frequencyPenalty", frequencyPenalty, "must be finite");
            if (logprobs < 0 || logprobs > MAX_LOGPROBS) throw invalid("logprobs", logprobs, "must be in [0, " + MAX_LOGPROBS + "]");
        }

        /** Plain sampling at this temperature with this seed: no truncation, no penalties, no logprobs. */
        public static RowParams sampling(float temperature, long seed) {
            return new RowParams(temperature, 0, 1f, 0f, 1f, 0f, 0f, seed, 0);
        }

        public static Builder builder() {
            return new Builder();
        }

        /** Whether the row reads its history (a penalty is on). */
        public boolean penalized() {
            return repetitionPenalty != 1f || presencePenalty != 0f || frequencyPenalty != 0f;
        }

        private static IllegalArgumentException invalid(String field, Object value, String rule) {
            return new IllegalArgumentException("sample: " + field + " (" + value + ") " + rule);
        }

        /** Starts from {@link #sampling sampling(1, 0)}. */
        public static final class Builder {
            private float temperature = 1f, topP = 1f, minP = 0f, repetitionPenalty = 1f, presencePenalty = 0f, frequencyPenalty = 0f;
            private int topK, logprobs;
            private long seed;

            public Builder temperature(float v) { temperature = v; return this; }
            public Builder topK(int v) { topK = v; return this; }
            public Builder topP(float v) { topP = v; return this; }
            public Builder minP(float v) { minP = v; return this; }
            public Builder repetitionPenalty(float v) { repetitionPenalty = v; return this; }
            public Builder presencePenalty(float v) { presencePenalty = v; return this; }
            public Builder frequencyPenalty(float v) { frequencyPenalty = v; return this; }
            public Builder seed(long v) { seed = v; return this; }
            public Builder logprobs(int v) { logprobs = v; return this; }

            public RowParams build() {
                return new RowParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, logprobs);
            }
        }
    }

    private final int rows;
    private final int[] words;   // FIELDS * rows, then the history ids
    private final long[] longs;  // 3 * rows + 1
    private final int maxLogprobs;

    private SampleBatch(int rows, int[] words, long[] longs, int maxLogprobs) {
        this.rows = rows;
        this.words = words;
        this.longs = longs;
        this.maxLogprobs = maxLogprobs;
    }

    /** A builder for {@code rows} rows; every row must be set once. */
    public static Builder builder(int rows) {
        return new Builder(rows);
    }

    public int rows() {
        return rows;
    }

    /** The logprobs row r asked for. */
    public int logprobs(int r) {
        return words[LOGPROBS * rows + Objects.checkIndex(r, rows)];
    }

    /** The largest logprobs of any row (the stride of the top outputs). */
    public int maxLogprobs() {
        return maxLogprobs;
    }

    /** History ids uploaded (the rows with a penalty). */
    public int historyLength() {
        return words.length - FIELDS * rows;
    }

    int[] words() {
        return words;
    }

    long[] longs() {
        return longs;
    }

    /** Throws IllegalArgumentException naming the row and position of the first history id outside [0, vocab). */
    void checkIds(long vocab) {
        int base = FIELDS * rows;
        for (int r = 0; r < rows; r++) {
            int start = (int) longs[OFFSETS * rows + r], end = (int) longs[OFFSETS * rows + r + 1], prompt = words[PROMPT * rows + r];
            for (int j = start; j < end; j++) {
                int id = words[base + j];
                if (id < vocab) continue;
                boolean isPrompt = j - start < prompt;
                throw new IllegalArgumentException("sample: row " + r + ": " + (isPrompt ? "prompt" : "output") + " id " + id
                        + " at position " + (isPrompt ? j - start : j - start - prompt) + " is outside [0, vocab=" + vocab + ")");
            }
        }
    }

    /** Fills one row at a time (any order); {@link #build} checks that every row was set. */
    public static final class Builder {
        private final int rows;
        private final int[] words;
        private final long[] longs;
        private final int[] start, length;  // each row's segment of history
        private final boolean[] set;
        private int[] history = new int[0];
        private int historyLength;
        private int maxLogprobs;
        private boolean built;

        private Builder(int rows) {
            if (rows < 0) throw new IllegalArgumentException("sample: rows (" + rows + ") must be >= 0");
            this.rows = rows;
            this.words = new int[FIELDS * rows];
            this.longs = new long[3 * rows + 1];
            this.start = new int[rows];
            this.length = new int[rows];
            this.set = new boolean[rows];
        }

        /** Row r with its whole prompt and output arrays. */
        public Builder row(int r, RowParams params, long step, int[] promptIds, int[] outputIds) {
            return row(r, params, step, promptIds, promptIds == null ? 0 : promptIds.length, outputIds,
                    outputIds == null ? 0 : outputIds.length);
        }

        /**
         * Row r: its parameters, its generation step, and the first {@code promptLength} ids of promptIds
         * and {@code outputLength} of outputIds (growable buffers need no trimming). The ids are copied
         * now, and only when the row has a penalty; they must be ≥ 0 (the vocabulary bound is checked
         * by {@link Ops#sample}). A null array is empty.
         */
        public Builder row(int r, RowParams params, long step, int[] promptIds, int promptLength, int[] outputIds, int outputLength) {
            if (built) throw new IllegalStateException("sample: this builder has already built its batch");
            if (r < 0 || r >= rows) throw new IllegalArgumentException("sample: row " + r + " is outside [0, " + rows + ")");
            if (set[r]) throw new IllegalArgumentException("sample: row " + r + " is set twice");
            if (params == null) throw new IllegalArgumentException("sample: row " + r + ": params must be given");
            checkLength(r, "prompt", promptIds, promptLength);
            checkLength(r, "output", outputIds, outputLength);
            set[r] = true;
            words[TEMPERATURE * rows + r] = Float.floatToRawIntBits(params.temperature());
            words[TOP_P * rows + r] = Float.floatToRawIntBits(params.topP());
            words[MIN_P * rows + r] = Float.floatToRawIntBits(params.minP());
            words[REPETITION * rows + r] = Float.floatToRawIntBits(params.repetitionPenalty());
            words[PRESENCE * rows + r] = Float.floatToRawIntBits(params.presencePenalty());
            words[FREQUENCY * rows + r] = Float.floatToRawIntBits(params.frequencyPenalty());
            words[TOP_K * rows + r] = params.topK();
            words[LOGPROBS * rows + r] = params.logprobs();
            longs[SEED * rows + r] = params.seed();
            longs[STEP * rows + r] = step;
            maxLogprobs = Math.max(maxLogprobs, params.logprobs());
            if (!params.penalized()) return this;
            start[r] = historyLength;
            length[r] = Math.addExact(promptLength, outputLength);
            words[PROMPT * rows + r] = promptLength;
            append(r, "prompt", promptIds, promptLength);
            append(r, "output", outputIds, outputLength);
            return this;
        }

        private static void checkLength(int r, String what, int[] ids, int n) {
            int have = ids == null ? 0 : ids.length;
            if (n < 0 || n > have) {
                throw new IllegalArgumentException("sample: row " + r + ": " + what + " length " + n + " is outside [0, " + have + "]");
            }
        }

        private void append(int r, String what, int[] ids, int n) {
            if (historyLength + n > history.length) {
                history = Arrays.copyOf(history, Math.max(Math.addExact(historyLength, n), 2 * history.length));
            }
            for (int j = 0; j < n; j++) {
                int id = ids[j];
                if (id < 0) throw new IllegalArgumentException("sample: row " + r + ": " + what + " id " + id + " at position " + j + " is negative");
                history[historyLength++] = id;
            }
        }

        /** The batch; a builder builds once. */
        public SampleBatch build() {
            if (built) throw new IllegalStateException("sample: this builder has already built its batch");
            for (int r = 0; r < rows; r++) {
                if (!set[r]) throw new IllegalArgumentException("sample: row " + r + " of " + rows + " was not set");
            }
            int[] all = Arrays.copyOf(words, FIELDS * rows + historyLength);
            int at = FIELDS * rows;
            for (int r = 0; r < rows; r++) { // segments in row order, whatever order the rows came in
                longs[OFFSETS * rows + r] = at - FIELDS * rows;
                System.arraycopy(history, start[r], all, at, length[r]);
                at += length[r];
            }
            longs[OFFSETS * rows + rows] = at - FIELDS * rows;
            built = true;
            return new SampleBatch(rows, all, longs, maxLogprobs);
        }
    }
}
