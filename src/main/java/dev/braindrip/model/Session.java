package dev.braindrip.model;

import dev.braindrip.nn.KvCache;
import dev.braindrip.nn.SinkWindowKvCache;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Incremental decoding over a fixed number of sequence slots. {@link #prefill(TokenBatch)} runs
 * each prompt (one ragged batch) and fills every layer's KV cache — a ring of W slots for
 * sliding-window layers, a dense cache of {@code capacity} tokens otherwise, a StreamingLLM cache
 * when the session was opened with {@link Streaming} — and {@link #step} runs one new token per
 * sequence. prefill followed by steps gives the logits of a full forward over the same tokens.
 * An encoder-decoder's session (T5) takes sources as prompts: prefill encodes them once, keeps
 * each decoder layer's cross-attention keys and values in a static cache, and runs the decoder on
 * its start token; steps run the decoder alone.
 *
 * <p>A generation engine uses the slots as a pool: {@link #prefill(TokenBatch, int)} starts new
 * sequences in chosen slots, {@link #step} runs the first n slots, and {@link #move} keeps the
 * live sequences packed at the front when one finishes, so every step is one kernel call per op
 * over exactly the live sequences.
 */
public final class Session implements AutoCloseable {
    /** StreamingLLM: keep the first {@code sinks} and the last {@code window} tokens of each sequence. */
    public record Streaming(int sinks, int window) {
        public Streaming {
            if (sinks < 0) throw new IllegalArgumentException("streaming: sinks (" + sinks + ") must be >= 0");
            if (window < 1) throw new IllegalArgumentException("streaming: window (" + window + ") must be >= 1");
        }

        /** Tokens a sequence keeps: sinks + window. */
        public int tokens() {
            return sinks + window;
        }
    }

    private final Transformer model;
    private final int batch, capacity;
    private final Streaming streaming;
    private final boolean bounded;                                   // some layer's cache holds at most `capacity` tokens
    private final List<KvCache> caches = new ArrayList<>();          // per layer (null for routed layers)
    private final List<KvCache[]> routed = new ArrayList<>();        // per layer: one cache per sequence for MoD layers
    private final List<KvCache> cross = new ArrayList<>();           // encoder-decoder: per decoder layer, the sources' keys and values
    private LatentSession latent;                                    // a Byte Latent Transformer's caches at every level, or null
    private final int[] lengths;
    private boolean prefilled, closed;

    Session(Transformer model, int batch, int capacity) {
        this(model, batch, capacity, null);
    }

    Session(Transformer model, int batch, int capacity, Streaming streaming) {
        if (batch <= 0) throw new IllegalArgumentException("session: batch (" + batch + ") must be > 0");
        if (capacity <= 0) throw new IllegalArgumentException("session: capacity (" + capacity + ") must be > 0");
        this.model = model;
        this.batch = batch;
        this.capacity = capacity;
        this.streaming = streaming;
        this.lengths = new int[batch];
        ModelConfig c = model.config();
        if (streaming != null && c.isByteLatent()) {
            throw new UnsupportedOperationException("streaming: a Byte Latent Transformer has no StreamingLLM cache (its global model reads every patch)");
        }
        if (streaming != null) checkStreaming(c);
        boolean anyBounded = false;
        try {
            if (c.isByteLatent()) latent = new LatentSession(model.byteLatent(), model.arena(), batch, capacity);
            anyBounded |= c.isByteLatent();
            if (c.isEncoderDecoder()) {
                // the decoder's self-attention caches (decoder tokens) and static cross caches (source tokens), both of `capacity`
                for (int i = 0; i < c.decoderLayers(); i++) {
                    caches.add(KvCache.dense(model.arena(), batch, capacity, c.kvHeads(), c.headDim(), model.dtype()));
                    routed.add(null);
                    cross.add(KvCache.dense(model.arena(), batch, capacity, c.kvHeads(), c.headDim(), model.dtype()));
                }
                anyBounded = true;
            }
            for (int i = 0; i < (c.isEncoderDecoder() || c.isByteLatent() ? 0 : c.layerCount()); i++) {
                LayerSpec l = c.layer(i);
                if (l.modCapacity() > 0) {
                    // routed tokens differ per sequence: each sequence gets its own cache of this layer
                    KvCache[] per = new KvCache[batch];
                    routed.add(per);
                    caches.add(null);
                    for (int b = 0; b < batch; b++) per[b] = cacheFor(c, l, 1, capacity);
                    anyBounded = true;
                } else {
                    routed.add(null);
                    KvCache kv = cacheFor(c, l, batch, capacity);
                    caches.add(kv);
                    if (!kv.isRing()) anyBounded = true;
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.bounded = anyBounded;
    }

    /**
     * The KV-cache bytes one sequence slot of a session would hold (all layers; the per-sequence
     * counters aside): what a generation engine divides its memory budget by.
     */
    public static long slotBytes(ModelConfig c, dev.braindrip.tensor.DType dtype, int capacity, Streaming streaming) {
        long perToken = 2L * c.kvHeads() * c.headDim() * dtype.bytes(); // K and V rows of one token
        if (c.isEncoderDecoder()) return 2 * perToken * capacity * c.decoderLayers(); // self (decoder tokens) + cross (source tokens)
        if (c.isByteLatent()) return LatentSession.slotBytes(c.latent(), dtype, capacity);
        long total = 0;
        for (int i = 0; i < c.layerCount(); i++) {
            LayerSpec l = c.layer(i);
            long tokens;
            if (l.attention() == LayerSpec.Attention.DIFFERENTIAL) {
                total += 2 * perToken * capacity; // 2Hkv key heads of d and Hkv value heads of 2d
                continue;
            } else if (l.attention() == LayerSpec.Attention.SLIDING && l.sinkTokens() == 0 && (l.window() < capacity || streaming != null)) {
                tokens = l.window();
            } else if (l.attention() == LayerSpec.Attention.SLIDING && (l.sinkTokens() + l.window() < capacity || streaming != null)) {
                tokens = l.sinkTokens() + l.window();
            } else if (streaming != null && l.modCapacity() == 0) {
                tokens = streaming.tokens();
            } else {
                tokens = capacity;
            }
            total += perToken * tokens;
        }
        return total;
    }

    /** StreamingLLM re-rotates keys in the cache with plain split-half RoPE over the whole head. */
    private static void checkStreaming(ModelConfig c) {
        RopeConfig r = c.rope();
        if (r == null) throw new IllegalArgumentException("streaming: needs a RoPE model (" + c.architecture() + " has " + c.positions() + " positions)");
        if (r.scaling() != RopeConfig.Scaling.NONE) {
            throw new UnsupportedOperationException("streaming: RoPE scaling " + r.scaling() + " is not supported in the StreamingLLM cache (plain RoPE only)");
        }
        if (r.interleaved() || (r.rotaryDim() != 0 && r.rotaryDim() != c.headDim())) {
            throw new UnsupportedOperationException("streaming: the StreamingLLM cache rotates split-half over the whole head dim; this model uses "
                    + (r.interleaved() ? "interleaved RoPE" : "a rotary dim of " + r.rotaryDim() + " of " + c.headDim()));
        }
        for (int i = 0; i < c.layerCount(); i++) {
            LayerSpec l = c.layer(i);
            if (l.attention() == LayerSpec.Attention.DIFFERENTIAL || l.attention() == LayerSpec.Attention.SPARSE || l.modCapacity() > 0) {
                throw new UnsupportedOperationException("streaming: layer " + i + " (" + l.attention() + (l.modCapacity() > 0 ? ", routed" : "")
                        + ") has no StreamingLLM cache");
            }
        }
    }

    /** A ring of W slots for a sliding layer (with the sink slots before it when it keeps sink tokens), a differential cache, or a dense one. */
    private KvCache cacheFor(ModelConfig c, LayerSpec l, int n, int capacity) {
        if (l.attention() == LayerSpec.Attention.DIFFERENTIAL) {
            return KvCache.differential(model.arena(), n, capacity, c.kvHeads(), c.headDim(), model.dtype());
        }
        if (l.attention() == LayerSpec.Attention.SLIDING && l.sinkTokens() == 0 && (l.window() < capacity || streaming != null)) {
            return KvCache.sliding(model.arena(), n, l.window(), c.kvHeads(), c.headDim(), model.dtype());
        }
        if (l.attention() == LayerSpec.Attention.SLIDING && (l.sinkTokens() + l.window() < capacity || streaming != null)) {
            return KvCache.sinkWindow(model.arena(), n, l.sinkTokens(), l.window(), c.kvHeads(), c.headDim(), model.dtype());
        }
        if (streaming != null) {
            return new SinkWindowKvCache(model.arena(), n, streaming.sinks(), streaming.window(), c.kvHeads(), c.headDim(), c.headDim(),
                    model.dtype(), (float) c.rope().theta());
        }
        return KvCache.dense(model.arena(), n, capacity, c.kvHeads(), c.headDim(), model.dtype());
    }

    KvCache cache(int layer) {
        return caches.get(layer);
    }

    /** An encoder-decoder's static cross-attention cache of decoder layer {@code layer} (the sources' keys and values). */
    KvCache crossCache(int layer) {
        return cross.get(layer);
    }

    /** Sequence b's own cache of a Mixture-of-Depths layer. */
    KvCache cache(int layer, int b) {
        return routed.get(layer)[b];
    }

    public int batch() {
        return batch;
    }

    /** Whether this is an encoder-decoder's session: prompts are sources, and lengths count decoder tokens. */
    public boolean encoderDecoder() {
        return !cross.isEmpty();
    }

    /** Tokens held for sequence b (an encoder-decoder: decoder tokens, the start token included). */
    public int length(int b) {
        return lengths[b];
    }

    /** KV-cache bytes of all layers. */
    public long cacheBytes() {
        long n = 0;
        for (KvCache c : caches) if (c != null) n += c.bytes();
        for (KvCache[] per : routed) if (per != null) for (KvCache c : per) if (c != null) n += c.bytes();
        for (KvCache c : cross) n += c.bytes();
        if (latent != null) n += latent.cacheBytes();
        return n;
    }

    /** The StreamingLLM setting, or null. */
    public Streaming streaming() {
        return streaming;
    }

    /** Tokens one sequence may hold: the capacity, or unbounded when every layer keeps a ring (StreamingLLM, sliding windows). */
    public long maxTokens() {
        return bounded ? capacity : Long.MAX_VALUE;
    }

    /** The longest prompt {@link #prefill(TokenBatch, int)} takes in one call: sinks + window when streaming (feed the rest as steps). */
    public int maxPrefill() {
        return streaming != null ? Math.min(capacity, streaming.tokens()) : capacity;
    }

    /** One prompt per sequence; returns packed logits (totalTokens, V). */
    public Tensor prefill(TokenBatch prompts) {
        check();
        if (prefilled) throw new IllegalStateException("session: already prefilled");
        if (prompts.rows() != batch) throw new IllegalArgumentException("session: " + prompts.rows() + " prompts for a batch of " + batch);
        checkPrompts(prompts);
        Tensor logits = latent != null ? latent.prefill(prompts, 0) : model.run(prompts, this);
        for (int b = 0; b < batch; b++) lengths[b] = encoderDecoder() ? 1 : prompts.length(b);
        prefilled = true;
        return logits;
    }

    /**
     * Starts new sequences: row r of {@code prompts} becomes the sequence in slot firstSlot + r
     * (whatever that slot held is forgotten). Returns the logits of each row's last token (rows, V).
     */
    public Tensor prefill(TokenBatch prompts, int firstSlot) {
        check();
        if (firstSlot < 0 || firstSlot > batch - prompts.rows()) {
            throw new IllegalArgumentException("session: rows [" + firstSlot + ", " + (firstSlot + prompts.rows()) + ") outside the " + batch + " slots");
        }
        checkPrompts(prompts);
        for (int r = 0; r < prompts.rows(); r++) release(firstSlot + r);
        Tensor logits = latent != null ? latent.prefill(prompts, firstSlot) : model.run(prompts, this, firstSlot, true);
        for (int r = 0; r < prompts.rows(); r++) lengths[firstSlot + r] = encoderDecoder() ? 1 : prompts.length(r);
        prefilled = true;
        return logits;
    }

    private void checkPrompts(TokenBatch prompts) {
        for (int b = 0; b < prompts.rows(); b++) {
            if (prompts.length(b) > maxPrefill()) {
                throw new IllegalArgumentException("session: prompt " + b + " has " + prompts.length(b) + " tokens, more than "
                        + (streaming != null && streaming.tokens() < capacity ? "the StreamingLLM sinks + window " : "the capacity ") + maxPrefill());
            }
        }
    }

    /** One new token for each of the first n = tokens.length sequences; returns logits (n, V). */
    public Tensor step(int[] tokens) {
        check();
        if (!prefilled) throw new IllegalStateException("session: prefill first");
        int n = tokens.length;
        if (n < 1 || n > batch) throw new IllegalArgumentException("session: " + n + " tokens for " + batch + " slots");
        for (int b = 0; b < n; b++) {
            if (bounded && lengths[b] >= capacity) throw new IllegalStateException("session: sequence " + b + " is full (" + capacity + " tokens)");
        }
        Tensor logits = latent != null ? latent.step(tokens, Arrays.copyOf(lengths, n)) : model.step(tokens, Arrays.copyOf(lengths, n), this);
        for (int b = 0; b < n; b++) lengths[b]++;
        return logits;
    }

    /** Moves the sequence in slot {@code from} to slot {@code to} (overwriting it); {@code from} is left empty. */
    public void move(int from, int to) {
        check();
        if (from < 0 || from >= batch || to < 0 || to >= batch) {
            throw new IllegalArgumentException("session: move " + from + " -> " + to + " outside the " + batch + " slots");
        }
        if (from == to) return;
        for (KvCache c : caches) if (c != null) c.move(from, to);
        for (KvCache c : cross) c.move(from, to);
        if (latent != null) latent.move(from, to);
        for (KvCache[] per : routed) {
            if (per == null) continue;
            KvCache t = per[to];
            per[to] = per[from];
            per[from] = t;
        }
        lengths[to] = lengths[from];
        release(from);
    }

    /** Forgets the sequence in slot b. */
    public void release(int b) {
        check();
        if (b < 0 || b >= batch) throw new IllegalArgumentException("session: slot " + b + " outside the " + batch + " slots");
        for (KvCache c : caches) if (c != null) c.reset(b);
        for (KvCache c : cross) c.reset(b);
        if (latent != null) latent.reset(b);
        for (KvCache[] per : routed) if (per != null) per[b].reset(0);
        lengths[b] = 0;
    }

    /** KV-cache bytes one slot holds (all layers). */
    public long bytesPerSlot() {
        return cacheBytes() / batch;
    }

    private void check() {
        if (closed) throw new IllegalStateException("use of a closed session");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (KvCache c : caches) if (c != null) c.close();
        for (KvCache[] per : routed) if (per != null) for (KvCache c : per) if (c != null) c.close();
        for (KvCache c : cross) c.close();
        if (latent != null) latent.close();
    }

}
