package dev.braindrip.model;

import dev.braindrip.nn.CrossAttention;
import dev.braindrip.nn.FeedForward;
import dev.braindrip.nn.KvCache;
import dev.braindrip.nn.Linear;
import dev.braindrip.nn.Norm;
import dev.braindrip.nn.SelfAttention;
import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.NormResult;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.PositionBias;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The encoder-decoder assembly (T5) behind a {@link Transformer} of stack ENCODER_DECODER.
 *
 * <p>Encoder layer: h += attn(n0(h)); h += ffn(n1(h)), bidirectional self-attention with the
 * encoder's bucketed position bias, then the final norm. Decoder layer: h += self(n0(h)) (causal,
 * the decoder's causal bias), h += cross(n1(h)) over the encoder output (no bias, no mask but the
 * row's own source), h += ffn(n2(h)); the final norm, then the head (× logitScale: d_model^−½
 * when tied). Each residual add is fused with the next norm. Ragged batches run packed: sources and
 * decoder rows of different lengths are never padded, so padding needs no mask.
 *
 * <p>In a {@link Session} the cross-attention keys and values of each source are computed once at
 * prefill and kept in a static per-layer cache; each decode step runs only the decoder.
 */
final class EncoderDecoder {
    private record EncLayer(Norm attnNorm, SelfAttention attn, Norm ffnNorm, FeedForward ffn) {}

    private record DecLayer(Norm attnNorm, SelfAttention self, Norm crossNorm, CrossAttention cross, Norm ffnNorm, FeedForward ffn) {}

    private final ModelConfig c;
    private final Arena arena;
    private final Ops ops;
    private final Weights w;
    private final List<EncLayer> encoder = new ArrayList<>();
    private final List<DecLayer> decoder = new ArrayList<>();
    private final Norm encNorm, decNorm;
    private final Tensor embed, head;

    EncoderDecoder(ModelConfig c, Weights w, Arena arena, Ops ops) {
        this.c = c;
        this.w = w;
        this.arena = arena;
        this.ops = ops;
        float scale = (float) c.effectiveAttentionScale();
        PositionBias encBias = PositionBias.t5(w.get("enc.rel_bias"), c.relBuckets(), c.relMaxDistance(), true);
        PositionBias decBias = PositionBias.t5(w.get("dec.rel_bias"), c.relBuckets(), c.relMaxDistance(), false);
        for (int i = 0; i < c.layerCount(); i++) {
            String p = "enc.layers." + i + ".";
            encoder.add(new EncLayer(norm(p + "attn_norm"), attention(p, false, scale, encBias), norm(p + "ffn_norm"), ffn(p)));
        }
        for (int i = 0; i < c.decoderLayers(); i++) {
            String p = "dec.layers." + i + ".";
            CrossAttention cross = new CrossAttention(linear(p + "cross.q"), linear(p + "cross.k"), linear(p + "cross.v"), linear(p + "cross.o"),
                    c.heads(), c.kvHeads(), c.headDim(), scale);
            decoder.add(new DecLayer(norm(p + "attn_norm"), attention(p, true, scale, decBias), norm(p + "cross_norm"), cross,
                    norm(p + "ffn_norm"), ffn(p)));
        }
        encNorm = norm("enc.final_norm");
        decNorm = norm("dec.final_norm");
        embed = w.get("embed");
        head = c.tieEmbeddings() ? embed : w.get("lm_head");
    }

    private Norm norm(String name) {
        return new Norm(Norm.Kind.RMS, w.get(name + ".weight"), null, (float) c.normEps());
    }

    private Linear linear(String name) {
        return new Linear(w.get(name + ".weight"), null);
    }

    private SelfAttention attention(String p, boolean causal, float scale, PositionBias bias) {
        return SelfAttention.biased(linear(p + "q"), linear(p + "k"), linear(p + "v"), linear(p + "o"), c.heads(), c.kvHeads(), c.headDim(),
                causal, scale, bias);
    }

    private FeedForward ffn(String p) {
        if (c.ffnGated()) {
            Glu glu = switch (c.activation()) {
                case SWIGLU -> Glu.SWIGLU;
                case GEGLU -> Glu.GEGLU;
                case GEGLU_TANH -> Glu.GEGLU_TANH;
                default -> throw new IllegalArgumentException("t5: gated FFN activation " + c.activation() + " is not a GLU");
            };
            return FeedForward.gated(linear(p + "gate_up"), linear(p + "down"), glu);
        }
        Activation act = switch (c.activation()) {
            case RELU -> Activation.RELU;
            case GELU -> Activation.GELU;
            case GELU_TANH -> Activation.GELU_TANH;
            case SILU -> Activation.SILU;
            default -> throw new IllegalArgumentException("t5: FFN activation " + c.activation() + " is gated");
        };
        return FeedForward.plain(linear(p + "up"), linear(p + "down"), act);
    }

    // ---- running

    /** The encoder's last hidden state (after its final norm) of a packed batch of sources: (S, H). */
    Tensor encode(TokenBatch source) {
        checkIds(source.packed(), "source");
        int s = source.totalTokens();
        try (Tensor ids = arena.fromInts(source.packed(), s); Tensor pos = arena.fromInts(source.positions(), s);
             Tensor cu = arena.fromInts(source.offsets(), source.rows() + 1)) {
            Tensor h = ops.embedding(embed, ids);
            int[] offsets = source.offsets();
            for (EncLayer l : encoder) {
                try (Tensor in = h) {
                    Tensor a;
                    try (Tensor x = l.attnNorm().apply(ops, in)) {
                        a = l.attn().forward(ops, x, pos, cu, offsets, null, 0);
                    }
                    try (a; NormResult r = l.ffnNorm().addApply(ops, a, in); Tensor f = l.ffn().apply(ops, r.normed())) {
                        h = ops.add(f, r.sum());
                    }
                }
            }
            try (Tensor in = h) {
                return encNorm.apply(ops, in);
            }
        }
    }

    /** Decoder logits (T, V) of every decoder token, each row over its own source (row r of both batches). */
    Tensor forward(TokenBatch source, TokenBatch target) {
        if (source.rows() != target.rows()) {
            throw new IllegalArgumentException("forward: " + source.rows() + " source rows but " + target.rows() + " decoder rows");
        }
        checkIds(target.packed(), "decoder token");
        try (Tensor enc = encode(source); Tensor cuSrc = arena.fromInts(source.offsets(), source.rows() + 1)) {
            return decode(target, enc, source.offsets(), cuSrc, null, 0, false);
        }
    }

    /**
     * Starts sequences firstSlot + r of a session: encodes the sources, keeps each layer's cross
     * keys and values in the session's static cross caches, and runs the decoder over
     * {@code target} (row r: the decoder's first ids, e.g. the start token) filling the
     * self-attention caches. Returns the logits of each row's last decoder token (rows, V).
     */
    Tensor prefill(TokenBatch source, TokenBatch target, Session session, int firstSlot) {
        if (source.rows() != target.rows()) {
            throw new IllegalArgumentException("prefill: " + source.rows() + " source rows but " + target.rows() + " decoder rows");
        }
        checkIds(target.packed(), "decoder token");
        try (Tensor enc = encode(source); Tensor cuSrc = arena.fromInts(source.offsets(), source.rows() + 1)) {
            return decode(target, enc, source.offsets(), cuSrc, session, firstSlot, true);
        }
    }

    private Tensor decode(TokenBatch target, Tensor enc, int[] srcOffsets, Tensor cuSrc, Session session, int firstSlot, boolean lastOnly) {
        int t = target.totalTokens();
        int[] offsets = target.offsets();
        try (Tensor ids = arena.fromInts(target.packed(), t); Tensor pos = arena.fromInts(target.positions(), t);
             Tensor cu = arena.fromInts(offsets, target.rows() + 1)) {
            Tensor h = ops.embedding(embed, ids);
            for (int i = 0; i < decoder.size(); i++) {
                DecLayer l = decoder.get(i);
                KvCache self = session == null ? null : session.cache(i);
                try (Tensor in = h; CrossAttention.Memory mem = l.cross().memory(ops, enc)) {
                    if (session != null) CrossAttention.fill(session.crossCache(i), mem, srcOffsets, firstSlot);
                    h = layer(l, in, x -> l.self().forward(ops, x, pos, cu, offsets, self, firstSlot), x -> l.cross().forward(ops, x, cu, mem, cuSrc));
                }
            }
            if (lastOnly) {
                int[] last = new int[target.rows()];
                for (int r = 0; r < last.length; r++) last[r] = offsets[r + 1] - 1;
                try (Tensor in = h; Tensor idx = arena.fromInts(last, last.length)) {
                    h = ops.embedding(in, idx);
                }
            }
            return logits(h);
        }
    }

    /** One decoder token per sequence (the first n slots): ids (n) at positions (n). Returns logits (n, V). */
    Tensor step(int[] ids, int[] positions, Session session) {
        checkIds(ids, "decoder token");
        try (Tensor idt = arena.fromInts(ids, ids.length); Tensor pos = arena.fromInts(positions, positions.length)) {
            Tensor h = ops.embedding(embed, idt);
            for (int i = 0; i < decoder.size(); i++) {
                DecLayer l = decoder.get(i);
                KvCache self = session.cache(i), cross = session.crossCache(i);
                try (Tensor in = h) {
                    h = layer(l, in, x -> l.self().step(ops, x, pos, self), x -> l.cross().step(ops, x, cross));
                }
            }
            return logits(h);
        }
    }

    /** h += self(n0(h)); h += cross(n1(h)); h += ffn(n2(h)), each add fused with the next norm. */
    private Tensor layer(DecLayer l, Tensor h, java.util.function.UnaryOperator<Tensor> self, java.util.function.UnaryOperator<Tensor> cross) {
        Tensor a;
        try (Tensor x = l.attnNorm().apply(ops, h)) {
            a = self.apply(x);
        }
        NormResult r1;
        try (a) {
            r1 = l.crossNorm().addApply(ops, a, h);
        }
        try (r1) {
            Tensor ca = cross.apply(r1.normed());
            try (ca; NormResult r2 = l.ffnNorm().addApply(ops, ca, r1.sum()); Tensor f = l.ffn().apply(ops, r2.normed())) {
                return ops.add(f, r2.sum());
            }
        }
    }

    private Tensor logits(Tensor h) {
        Tensor logits;
        try (Tensor in = h; Tensor normed = decNorm.apply(ops, in)) {
            logits = ops.gemm(normed, head, null, true);
        }
        if (c.logitScale() != 1) {
            try (Tensor in = logits) {
                logits = ops.scale(in, (float) c.logitScale());
            }
        }
        return logits;
    }

    private void checkIds(int[] ids, String what) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= c.vocabSize()) {
                throw new IllegalArgumentException(what + " id " + ids[i] + " (at " + i + ") is out of range for vocab size " + c.vocabSize());
            }
        }
    }

    /** The decoder's first input of each of {@code rows} sequences: the start token alone. */
    TokenBatch startTokens(int rows) {
        int[][] r = new int[rows][];
        Arrays.setAll(r, i -> new int[] {c.decoderStartTokenId()});
        return TokenBatch.of(r);
    }
}
