package dev.braindrip.generate;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How one request is decoded, in vLLM's vocabulary (the same field names and defaults as its
 * SamplingParams, with this library's defaults where the CLI contract sets them). Logits are
 * processed in this order: penalties, temperature, top-k, top-p, min-p, then the draw from what is
 * left, renormalized; {@code temperature 0} is greedy. Validated on build: a bad value names the
 * field. Serializable (its lists are immutable copies), so it can travel to other JVMs (the Spark job).
 *
 * @param maxTokens         most tokens to generate (≥ 1)
 * @param temperature       ≥ 0; 0 is greedy
 * @param topK              keep the k most likely ids; 0 or -1: off
 * @param topP              keep the smallest set of most likely ids reaching this probability, in (0, 1]
 * @param minP              keep ids at least this times as likely as the most likely, in [0, 1]
 * @param repetitionPenalty divides positive / multiplies negative logits of ids seen in prompt and output, > 0 (1: off)
 * @param presencePenalty   subtracted once from the logit of every id already generated, in [-2, 2]
 * @param frequencyPenalty  subtracted per occurrence from the logit of ids already generated, in [-2, 2]
 * @param stop              strings that end generation when the generated text gains one (cut from the text)
 * @param stopTokenIds      ids that end generation (not included in the output)
 * @param ignoreEos         keep generating past the model's EOS
 * @param seed              the request's seed, or null for the generator's default (its seed plus the request's index)
 * @param logprobs          how many most likely ids to report per generated token (0: no logprobs)
 */
public record SamplingParams(int maxTokens, float temperature, int topK, float topP, float minP, float repetitionPenalty,
                             float presencePenalty, float frequencyPenalty, List<String> stop, List<Integer> stopTokenIds,
                             boolean ignoreEos, Long seed, int logprobs) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The most top logprobs a request may ask for. */
    public static final int MAX_LOGPROBS = 64;

    public SamplingParams {
        stop = stop == null ? List.of() : List.copyOf(stop);
        stopTokenIds = stopTokenIds == null ? List.of() : List.copyOf(stopTokenIds);
        if (maxTokens < 1) throw invalid("max_tokens", maxTokens, "must be at least 1");
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw invalid("temperature", temperature, "must be a finite number >= 0");
        if (topK < -1) throw invalid("top_k", topK, "must be -1 or 0 (off) or at least 1");
        if (!(topP > 0 && topP <= 1)) throw invalid("top_p", topP, "must be in (0, 1]");
        if (!(minP >= 0 && minP <= 1)) throw invalid("min_p", minP, "must be in [0, 1]");
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) throw invalid("repetition_penalty", repetitionPenalty, "must be a finite number > 0");
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw invalid("presence_penalty", presencePenalty, "must be in [-2, 2]");
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw invalid("frequency_penalty", frequencyPenalty, "must be in [-2, 2]");
        if (logprobs < 0 || logprobs > MAX_LOGPROBS) throw invalid("logprobs", logprobs, "must be in [0, " + MAX_LOGPROBS + "]");
        for (String s : stop) {
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop: the stop strings must not be empty");
        }
        for (Integer id : stopTokenIds) {
            if (id == null || id < 0) throw new IllegalArgumentException("stop_token_ids: " + id + " is not a token id (>= 0)");
        }
    }

    private static IllegalArgumentException invalid(String field, Object value, String rule) {
        return new IllegalArgumentException(field + " " + rule + ", got " + value);
    }

    /** The defaults: max_tokens 128, temperature 1, no truncation, no penalties, no stop strings, no logprobs. */
    public static SamplingParams defaults() {
        return builder().build();
    }

    /** Greedy decoding of up to {@code maxTokens} tokens. */
    public static SamplingParams greedy(int maxTokens) {
        return builder().temperature(0).maxTokens(maxTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxTokens = maxTokens; b.temperature = temperature; b.topK = topK; b.topP = topP; b.minP = minP;
        b.repetitionPenalty = repetitionPenalty; b.presencePenalty = presencePenalty; b.frequencyPenalty = frequencyPenalty;
        b.stop = new ArrayList<>(stop); b.stopTokenIds = new ArrayList<>(stopTokenIds); b.ignoreEos = ignoreEos; b.seed = seed;
        b.logprobs = logprobs;
        return b;
    }

    /** Whether top-k is on. */
    public boolean hasTopK() {
        return topK > 0;
    }

    /** The longest stop string, in chars (0 when none). */
    public int maxStopLength() {
        int m = 0;
        for (String s : stop) m = Math.max(m, s.length());
        return m;
    }

    public static final class Builder {
        private int maxTokens = 128;
        private float temperature = 1f;
        private int topK = -1;
        private float topP = 1f;
        private float minP = 0f;
        private float repetitionPenalty = 1f;
        private float presencePenalty = 0f;
        private float frequencyPenalty = 0f;
        private List<String> stop = new ArrayList<>();
        private List<Integer> stopTokenIds = new ArrayList<>();
        private boolean ignoreEos;
        private Long seed;
        private int logprobs;

        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder temperature(float v) { temperature = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder topP(float v) { topP = v; return this; }
        public Builder minP(float v) { minP = v; return this; }
        public Builder repetitionPenalty(float v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(float v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(float v) { frequencyPenalty = v; return this; }
        public Builder stop(List<String> v) { stop = new ArrayList<>(v); return this; }
        public Builder stop(String... v) { stop = new ArrayList<>(List.of(v)); return this; }
        public Builder stopTokenIds(List<Integer> v) { stopTokenIds = new ArrayList<>(v); return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder logprobs(int v) { logprobs = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(maxTokens, temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    stop, stopTokenIds, ignoreEos, seed, logprobs);
        }
    }
}
