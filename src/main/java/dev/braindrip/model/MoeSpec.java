package dev.braindrip.model;

/**
 * Expert settings of the MoE layers of a model.
 *
 * @param experts      routed experts E
 * @param topK         experts per token k
 * @param routing      SOFTMAX_TOPK (softmax over all E, then top-k; Mixtral, Qwen-MoE) or TOPK_SOFTMAX
 *                     (top-k of the logits, then softmax over those k; gpt-oss)
 * @param normTopk     renormalize the k weights (SOFTMAX_TOPK)
 * @param expertFfn    each expert's FFN width
 * @param routerBias   the router has a bias (gpt-oss)
 * @param expertBias   the experts' projections have biases (gpt-oss)
 * @param sharedFfn    shared expert width (0 = none)
 * @param sharedGate   the shared expert is scaled by sigmoid(shared_expert_gate · x) (Qwen2-MoE)
 * @param swigluLimit  gpt-oss clamp of gate and up (SWIGLU_OSS), 0 otherwise
 */
public record MoeSpec(int experts, int topK, Routing routing, boolean normTopk, int expertFfn, boolean routerBias, boolean expertBias,
                      int sharedFfn, boolean sharedGate, double swigluLimit) {
    public enum Routing { SOFTMAX_TOPK, TOPK_SOFTMAX }

    public MoeSpec {
        ModelConfig.require(experts > 0, "moe.experts (" + experts + ") must be > 0");
        ModelConfig.require(topK > 0 && topK <= experts, "moe.topK (" + topK + ") must be in [1, experts (" + experts + ")]");
        ModelConfig.require(routing != null, "moe.routing must be given");
        ModelConfig.require(expertFfn > 0, "moe.expertFfn (" + expertFfn + ") must be > 0");
        ModelConfig.require(sharedFfn >= 0, "moe.sharedFfn (" + sharedFfn + ") must be >= 0");
        ModelConfig.require(!sharedGate || sharedFfn > 0, "moe.sharedGate needs a shared expert (sharedFfn > 0)");
        ModelConfig.require(swigluLimit >= 0, "moe.swigluLimit (" + swigluLimit + ") must be >= 0");
    }

    public static MoeSpec softmaxTopK(int experts, int topK, boolean normTopk, int expertFfn) {
        return new MoeSpec(experts, topK, Routing.SOFTMAX_TOPK, normTopk, expertFfn, false, false, 0, false, 0);
    }

    public MoeSpec withShared(int ffn, boolean gated) {
        return new MoeSpec(experts, topK, routing, normTopk, expertFfn, routerBias, expertBias, ffn, gated, swigluLimit);
    }
}
