package dev.braindrip.ops.moe;

import java.util.Locale;

/**
 * How a MoE router turns a token's logits (T, E) into k experts and their weights (codes match
 * bd_moe_routing). Selection and weights are computed in F32; ties go to the lower expert id and
 * NaN scores rank below every number.
 */
public enum Routing {
    /**
     * p = softmax(logits) over all E; the k largest win; w = p[id], divided by the sum of the k
     * chosen p with {@code normTopk} (Mixtral, Qwen2/3-MoE). No router bias.
     */
    SOFTMAX_TOPK(0),
    /**
     * z = logits + bias (the router's own bias, optional); the k largest z win; w = softmax over the
     * k chosen z (gpt-oss). {@code normTopk} has no effect.
     */
    TOPK_SOFTMAX(1),
    /**
     * s = sigmoid(logits); experts are chosen by s + bias (DeepSeek-V3's selection-only correction
     * bias) inside the {@code topkGroups} best of {@code groups} groups (group score: the sum of its
     * two best biased scores); w = s[id] (unbiased), normalised over the k with {@code normTopk}.
     */
    SIGMOID_GROUPED(2),
    /**
     * Switch Transformer: k = 1, p = softmax(logits), id = argmax, w = p[id]; each expert takes at
     * most ceil(capacityFactor · T / E) tokens in token order, later ones are dropped (id −1,
     * weight 0, MoE output 0: they ride the residual). No router bias.
     */
    TOP1_CAPACITY(3);

    private final int code;

    Routing(int code) {
        this.code = code;
    }

    /** The bd_moe_routing code. */
    public int code() {
        return code;
    }

    /** The command-line spelling: softmax_topk, topk_softmax, sigmoid_grouped, top1_capacity. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether a router bias (E) is meaningful for this routing. */
    public boolean takesBias() {
        return this == TOPK_SOFTMAX || this == SIGMOID_GROUPED;
    }

    public static Routing parse(String s) {
        for (Routing r : values()) if (r.cliName().equalsIgnoreCase(s) || r.name().equalsIgnoreCase(s)) return r;
        throw new IllegalArgumentException("unknown routing '" + s + "' (expected softmax_topk, topk_softmax, sigmoid_grouped or top1_capacity)");
    }
}
