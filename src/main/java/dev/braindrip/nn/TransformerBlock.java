package dev.braindrip.nn;

import dev.braindrip.ops.NormResult;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;
import java.util.function.UnaryOperator;

/**
 * One transformer layer over the residual stream, with the norms where the architecture puts them:
 * <ul>
 *   <li>PRE (Llama): h += attn(n1(h)); h += ffn(n2(h)) — the second add and n2 fused.</li>
 *   <li>SANDWICH (Gemma 2): h += p1(attn(n1(h))); h += p2(ffn(n2(h))) — the first add and n2 fused.</li>
 *   <li>POST (BERT): h = n1(h + attn(h)); h = n2(h + ffn(h)) — both adds fused with their norms.</li>
 * </ul>
 * The attention (full, sliding, sparse, differential) is given per call; the FFN is dense or MoE
 * (a function of (T, H) → (T, H)).
 */
public final class TransformerBlock {
    public enum Placement { PRE, SANDWICH, POST }

    /** (T, H) → (T, H). */
    public interface Ffn {
        Tensor apply(Ops ops, Tensor x);
    }

    private final Placement placement;
    private final Norm n1, n2, p1, p2;
    private final Ffn ffn;

    /** PRE: n1, n2; SANDWICH: n1, p1 (after attention), n2, p2 (after the FFN); POST: n1 (after attention), n2. */
    public TransformerBlock(Placement placement, Norm n1, Norm p1, Norm n2, Norm p2, Ffn ffn) {
        this.placement = placement;
        this.n1 = n1;
        this.n2 = n2;
        this.p1 = p1;
        this.p2 = p2;
        this.ffn = ffn;
        if (n1 == null || n2 == null) throw new IllegalArgumentException("block: both norms must be given");
        if (placement == Placement.SANDWICH && (p1 == null || p2 == null)) throw new IllegalArgumentException("block: sandwich needs four norms");
    }

    /** h (T, H) → the new residual stream (T, H); {@code attend} runs the attention on its input. */
    public Tensor apply(Ops ops, Tensor h, UnaryOperator<Tensor> attend) {
        return switch (placement) {
            case PRE -> {
                Tensor a;
                try (Tensor x = n1.apply(ops, h)) {
                    a = attend.apply(x);
                }
                NormResult r;
                try (a) {
                    r = n2.addApply(ops, a, h);
                }
                try (Tensor normed = r.normed(); Tensor f = ffn.apply(ops, normed); Tensor sum = r.sum()) {
                    yield ops.add(f, sum);
                }
            }
            case SANDWICH -> {
                Tensor a;
                try (Tensor x = n1.apply(ops, h); Tensor raw = attend.apply(x)) {
                    a = p1.apply(ops, raw);
                }
                NormResult r;
                try (a) {
                    r = n2.addApply(ops, a, h);
                }
                try (Tensor normed = r.normed(); Tensor f = ffn.apply(ops, normed); Tensor fp = p2.apply(ops, f); Tensor sum = r.sum()) {
                    yield ops.add(fp, sum);
                }
            }
            case POST -> {
                NormResult r;
                try (Tensor a = attend.apply(h)) {
                    r = n1.addApply(ops, a, h);
                }
                try (Tensor sum1 = r.sum(); Tensor x = r.normed(); Tensor f = ffn.apply(ops, x)) {
                    NormResult r2 = n2.addApply(ops, f, x);
                    r2.sum().close();
                    yield r2.normed();
                }
            }
        };
    }
}
