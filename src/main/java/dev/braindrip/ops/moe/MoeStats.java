package dev.braindrip.ops.moe;

import java.util.Arrays;

/**
 * Load statistics of one routing call (bd_moe_router_params.stats).
 *
 * @param tokensPerExpert   slots routed to each expert, after capacity drops (E)
 * @param tokensDropped     slots dropped by capacity (TOP1_CAPACITY; 0 otherwise)
 * @param loadBalancingLoss E · Σ_e f_e · P_e (Switch / Mixtral auxiliary loss before its coefficient): f_e the
 *                          fraction of the T·k slots sent to e (before drops), P_e the mean router probability of e
 *                          (softmax of the logits, of logits + bias for TOPK_SOFTMAX, sigmoid scores normalised
 *                          per token for SIGMOID_GROUPED); 1 for a perfectly balanced router
 * @param routerZLoss       mean over tokens of logsumexp(z)², z the logits (+ bias for TOPK_SOFTMAX)
 */
public record MoeStats(int[] tokensPerExpert, long tokensDropped, double loadBalancingLoss, double routerZLoss) {
    public MoeStats {
        tokensPerExpert = tokensPerExpert.clone();
    }

    @Override
    public int[] tokensPerExpert() {
        return tokensPerExpert.clone();
    }

    /** Experts that received no token. */
    public int emptyExperts() {
        int n = 0;
        for (int c : tokensPerExpert) if (c == 0) n++;
        return n;
    }

    @Override
    public String toString() {
        return "MoeStats[tokensPerExpert=" + Arrays.toString(tokensPerExpert) + ", dropped=" + tokensDropped + ", lbLoss="
                + loadBalancingLoss + ", zLoss=" + routerZLoss + "]";
    }
}
