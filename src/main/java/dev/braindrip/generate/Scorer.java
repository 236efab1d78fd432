package dev.braindrip.generate;

import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Next-token prediction over a long text (CLI.md, "braindrip score"): the mean negative
 * log-likelihood of every token after the first, in strided windows as in Hugging Face's
 * perplexity guide. Windows of {@code window} tokens start at 0, stride, 2·stride, … and stop
 * once one reaches the end; each window scores the tokens it newly covers (those past the previous
 * window's end), so every token is scored once, with at least {@code window − stride} tokens of
 * context when the text allows. Several windows run as rows of one ragged batch when they fit
 * {@code batchTokens}.
 *
 * <pre>{@code
 * try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32)) {
 *     ScoreResult r = Scorer.builder(m).window(1024).stride(512).build().score(ids, utf8Bytes);
 * }
 * }</pre>
 */
public final class Scorer {
    /** The default window is the model's context, capped at this many tokens. */
    public static final int MAX_DEFAULT_WINDOW = 2048;
    private static final long LOGITS_BUDGET = 64L << 20; // logits elements per forward when batching short windows
    private static final int MAX_BATCH_TOKENS = 8192;

    private final Transformer model;
    private final int window;
    private final int stride;
    private final int batchTokens;

    private Scorer(Transformer model, int window, int stride, int batchTokens) {
        this.model = model;
        this.window = window;
        this.stride = stride;
        this.batchTokens = batchTokens;
    }

    public static Builder builder(Transformer model) {
        return new Builder(model);
    }

    /** The window unless told otherwise: the model's context, at most {@value #MAX_DEFAULT_WINDOW}. */
    public static int defaultWindow(ModelConfig config) {
        return Math.min(config.maxPositions(), MAX_DEFAULT_WINDOW);
    }

    public int window() {
        return window;
    }

    public int stride() {
        return stride;
    }

    /** Scores ids whose text is unknown (no bytes: bits per byte is NaN). */
    public ScoreResult score(int[] ids) {
        return score(ids, -1);
    }

    /**
     * Scores {@code ids}, the tokens of a text of {@code bytes} UTF-8 bytes (-1 when unknown).
     * Needs at least 2 ids.
     */
    public ScoreResult score(int[] ids, long bytes) {
        if (ids.length < 2) {
            throw new IllegalArgumentException("the text is " + ids.length + " token" + (ids.length == 1 ? "" : "s")
                    + " long; scoring needs at least 2 (the first is context only)");
        }
        double total = 0;
        List<Window> plan = windows(ids.length, window, stride);
        for (int i = 0; i < plan.size(); ) {
            int j = i, tokens = 0;
            while (j < plan.size() && (j == i || tokens + plan.get(j).length() <= batchTokens)) tokens += plan.get(j++).length();
            total += nll(ids, plan.subList(i, j));
            i = j;
        }
        int scored = ids.length - 1;
        double mean = total / scored;
        double bpb = bytes > 0 ? total / Math.log(2) / bytes : bytes == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        return new ScoreResult(ids.length, bytes, mean, Math.exp(mean), bpb, window, stride);
    }

    /**
     * An encoder-decoder's likelihood of {@code target} given {@code source} (both ids; the target
     * of a text of {@code bytes} UTF-8 bytes, -1 when unknown): the decoder reads the start token
     * and the target but its last id, and every target id is scored, in one forward. In the result
     * {@code tokens} counts the decoder's ids (the start token, context only, and the target's), and
     * window and stride are that length (one window).
     */
    public static ScoreResult scoreTarget(Transformer model, int[] source, int[] target, long bytes) {
        ModelConfig c = model.config();
        if (!c.isEncoderDecoder()) {
            throw new IllegalArgumentException("scoring a target given a source needs an encoder-decoder model; " + c.architecture() + " is not one");
        }
        if (source.length == 0) throw new IllegalArgumentException("the source is empty; give at least one token");
        if (target.length == 0) throw new IllegalArgumentException("the target is empty; give at least one token to score");
        int[] in = new int[target.length];
        in[0] = c.decoderStartTokenId();
        System.arraycopy(target, 0, in, 1, target.length - 1);
        Ops ops = Ops.on(model.activations());
        float[] loss;
        try (Tensor logits = model.forward(TokenBatch.of(source), TokenBatch.of(in));
             Tensor tgt = model.activations().fromInts(target, target.length);
             Tensor l = ops.crossEntropy(logits, tgt)) {
            loss = l.toFloatArray();
        }
        double total = 0;
        for (int p = 0; p < loss.length; p++) {
            if (!Float.isFinite(loss[p])) throw new ArithmeticException("the loss of target token " + p + " is " + loss[p] + " (non-finite logits?)");
            total += loss[p];
        }
        double mean = total / target.length;
        double bpb = bytes > 0 ? total / Math.log(2) / bytes : bytes == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        int n = target.length + 1;
        return new ScoreResult(n, bytes, mean, Math.exp(mean), bpb, n, n);
    }

    /**
     * One window: tokens [begin, end) go in; the tokens at [firstTarget, end) are scored, each from
     * the logits of the position before it.
     */
    record Window(int begin, int end, int firstTarget) {
        int length() {
            return end - begin;
        }
    }

    /** The windows over a text of {@code length} tokens (length ≥ 2, 1 ≤ stride < window). */
    static List<Window> windows(int length, int window, int stride) {
        List<Window> out = new ArrayList<>();
        int prevEnd = 0;
        for (int begin = 0; ; begin += stride) {
            int end = Math.min(begin + window, length);
            out.add(new Window(begin, end, Math.max(prevEnd, begin + 1)));
            prevEnd = end;
            if (end == length) return out;
        }
    }

    /** Sum of the NLLs the windows score, from one forward over them as ragged rows. */
    private double nll(int[] ids, List<Window> ws) {
        int[][] rows = new int[ws.size()][];
        int total = 0;
        for (int r = 0; r < rows.length; r++) {
            Window w = ws.get(r);
            rows[r] = java.util.Arrays.copyOfRange(ids, w.begin(), w.end());
            total += w.length();
        }
        // targets[p] = the id that packed position p predicts, or -1 (ignored) where it scores nothing
        int[] targets = new int[total];
        java.util.Arrays.fill(targets, -1);
        int offset = 0;
        for (Window w : ws) {
            for (int t = w.firstTarget(); t < w.end(); t++) targets[offset + t - 1 - w.begin()] = ids[t];
            offset += w.length();
        }
        Ops ops = Ops.on(model.activations());
        float[] loss;
        try (Tensor logits = model.forward(TokenBatch.of(rows));
             Tensor tgt = model.activations().fromInts(targets, total);
             Tensor l = ops.crossEntropy(logits, tgt)) { // F32 compute whatever the logits' dtype
            loss = l.toFloatArray();
        }
        double sum = 0;
        for (int p = 0; p < total; p++) {
            if (targets[p] < 0) continue;
            if (!Float.isFinite(loss[p])) {
                throw new ArithmeticException("the loss of token " + p + " of a window is " + loss[p] + " (non-finite logits?)");
            }
            sum += loss[p];
        }
        return sum;
    }

    /** Window, stride and batching of a {@link Scorer}; what is not set takes its default. Validated at {@link #build()}. */
    public static final class Builder {
        private final Transformer model;
        private Integer window, stride, batchTokens;

        private Builder(Transformer model) {
            this.model = model;
        }

        /** Tokens per window (default: {@link #defaultWindow}); at least 2, at most the model's context. */
        public Builder window(int v) {
            window = v;
            return this;
        }

        /** Tokens each window advances by (default: half the window); in [1, window − 1]. */
        public Builder stride(int v) {
            stride = v;
            return this;
        }

        /** Most tokens per forward when several windows fit (default: a logits budget, at least one window). */
        public Builder batchTokens(int v) {
            batchTokens = v;
            return this;
        }

        public Scorer build() {
            ModelConfig c = model.config();
            if (c.isEncoderDecoder()) {
                throw new IllegalArgumentException("scoring a text alone needs a causal language model; " + c.architecture()
                        + " is an encoder-decoder: score a target given a source (Scorer.scoreTarget, score --source)");
            }
            if ((c.stack() != ModelConfig.Stack.DECODER && c.stack() != ModelConfig.Stack.BYTE_LATENT) || !c.isCausal()) {
                throw new IllegalArgumentException("scoring needs a causal language model; " + c.architecture() + " is not one");
            }
            int w = window == null ? defaultWindow(c) : window;
            if (w < 2) throw new IllegalArgumentException("window (" + w + ") must be at least 2 tokens");
            if (w > c.maxPositions()) {
                throw new IllegalArgumentException("window (" + w + ") exceeds the model's context of " + c.maxPositions()
                        + " tokens (max_position_embeddings)");
            }
            int s = stride == null ? Math.max(1, w / 2) : stride;
            if (s < 1 || s >= w) {
                throw new IllegalArgumentException("stride (" + s + ") must be in [1, " + (w - 1) + "], below the window (" + w
                        + "), so that each window overlaps the one before and its first new token has context");
            }
            int b = batchTokens == null ? (int) Math.max(w, Math.min(MAX_BATCH_TOKENS, LOGITS_BUDGET / c.vocabSize())) : batchTokens;
            if (b < 1) throw new IllegalArgumentException("batchTokens (" + b + ") must be > 0");
            return new Scorer(model, w, s, b);
        }
    }
}
