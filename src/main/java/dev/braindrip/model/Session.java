package dev.braindrip.model;

import dev.braindrip.nn.KvCache;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental decoding of a fixed batch of sequences: {@link #prefill} runs each prompt (one ragged
 * batch) and fills every layer's KV cache — a ring of W slots for sliding-window layers, a dense
 * cache of {@code capacity} tokens otherwise — and {@link #step} runs one new token per sequence.
 * prefill followed by steps gives the logits of a full forward over the same tokens.
 */
public final class Session implements AutoCloseable {
    private final Transformer model;
    private final int batch, capacity;
    private final List<KvCache> caches = new ArrayList<>();          // per layer (null for routed layers)
    private final List<KvCache[]> routed = new ArrayList<>();        // per layer: one cache per sequence for MoD layers
    private final int[] lengths;
    private boolean prefilled, closed;

    Session(Transformer model, int batch, int capacity) {
        if (batch <= 0) throw new IllegalArgumentException("session: batch (" + batch + ") must be > 0");
        if (capacity <= 0) throw new IllegalArgumentException("session: capacity (" + capacity + ") must be > 0");
        this.model = model;
        this.batch = batch;
        this.capacity = capacity;
        this.lengths = new int[batch];
        ModelConfig c = model.config();
        try {
            for (int i = 0; i < c.layerCount(); i++) {
                LayerSpec l = c.layer(i);
                if (l.modCapacity() > 0) {
                    // routed tokens differ per sequence: each sequence gets its own cache of this layer
                    KvCache[] per = new KvCache[batch];
                    routed.add(per);
                    caches.add(null);
                    for (int b = 0; b < batch; b++) per[b] = cacheFor(c, l, 1, capacity);
                } else {
                    routed.add(null);
                    caches.add(cacheFor(c, l, batch, capacity));
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** A ring of W slots for a sliding layer (with the sink slots before it when it keeps sink tokens), a differential cache, or a dense one. */
    private KvCache cacheFor(ModelConfig c, LayerSpec l, int n, int capacity) {
        if (l.attention() == LayerSpec.Attention.DIFFERENTIAL) {
            return KvCache.differential(model.arena(), n, capacity, c.kvHeads(), c.headDim(), model.dtype());
        }
        if (l.attention() == LayerSpec.Attention.SLIDING && l.sinkTokens() == 0 && l.window() < capacity) {
            return KvCache.sliding(model.arena(), n, l.window(), c.kvHeads(), c.headDim(), model.dtype());
        }
        if (l.attention() == LayerSpec.Attention.SLIDING && l.sinkTokens() + l.window() < capacity) {
            return KvCache.sinkWindow(model.arena(), n, l.sinkTokens(), l.window(), c.kvHeads(), c.headDim(), model.dtype());
        }
        return KvCache.dense(model.arena(), n, capacity, c.kvHeads(), c.headDim(), model.dtype());
    }

    KvCache cache(int layer) {
        return caches.get(layer);
    }

    /** Sequence b's own cache of a Mixture-of-Depths layer. */
    KvCache cache(int layer, int b) {
        return routed.get(layer)[b];
    }

    public int batch() {
        return batch;
    }

    /** Tokens held for sequence b. */
    public int length(int b) {
        return lengths[b];
    }

    /** KV-cache bytes of all layers. */
    public long cacheBytes() {
        long n = 0;
        for (KvCache c : caches) if (c != null) n += c.bytes();
        for (KvCache[] per : routed) if (per != null) for (KvCache c : per) if (c != null) n += c.bytes();
        return n;
    }

    /** One prompt per sequence; returns packed logits (totalTokens, V). */
    public Tensor prefill(TokenBatch prompts) {
        check();
        if (prefilled) throw new IllegalStateException("session: already prefilled");
        if (prompts.rows() != batch) throw new IllegalArgumentException("session: " + prompts.rows() + " prompts for a batch of " + batch);
        for (int b = 0; b < batch; b++) {
            if (prompts.length(b) > capacity) {
                throw new IllegalArgumentException("session: prompt " + b + " has " + prompts.length(b) + " tokens, more than the capacity " + capacity);
            }
        }
        Tensor logits = model.run(prompts, this);
        for (int b = 0; b < batch; b++) lengths[b] = prompts.length(b);
        prefilled = true;
        return logits;
    }

    /** One new token per sequence (tokens.length == batch); returns logits (batch, V). */
    public Tensor step(int[] tokens) {
        check();
        if (!prefilled) throw new IllegalStateException("session: prefill first");
        if (tokens.length != batch) throw new IllegalArgumentException("session: " + tokens.length + " tokens for a batch of " + batch);
        for (int b = 0; b < batch; b++) {
            if (lengths[b] >= capacity) throw new IllegalStateException("session: sequence " + b + " is full (" + capacity + " tokens)");
        }
        Tensor logits = model.step(tokens, lengths.clone(), this);
        for (int b = 0; b < batch; b++) lengths[b]++;
        return logits;
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
    }

}
