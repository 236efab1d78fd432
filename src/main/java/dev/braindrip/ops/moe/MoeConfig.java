package dev.braindrip.ops.moe;

import java.util.Locale;

/**
 * The routing and expert shape of a Mixture-of-Experts layer: immutable, built by {@link #builder},
 * validated at {@link Builder#build()} with a message that names the field and the rule.
 *
 * <pre>{@code
 * MoeConfig mixtral = MoeConfig.builder().experts(8).topK(2).routing(Routing.SOFTMAX_TOPK).normTopk(true).build();
 * MoeConfig deepseekV3 = MoeConfig.builder().experts(256).topK(8).routing(Routing.SIGMOID_GROUPED)
 *         .groups(8).topkGroups(4).normTopk(true).scaling(2.5f).build();
 * }</pre>
 *
 * @param experts        E, 1..1024
 * @param topK           k experts per token, 1..E (1 for {@link Routing#TOP1_CAPACITY})
 * @param routing        the router function
 * @param normTopk       renormalise the k weights to sum 1 (SOFTMAX_TOPK, SIGMOID_GROUPED)
 * @param groups         G expert groups for SIGMOID_GROUPED (1: no grouping); divides E, E/G ≥ 2
 * @param topkGroups     groups kept per token, 1..G; k ≤ topkGroups · E/G
 * @param capacityFactor TOP1_CAPACITY: each expert takes ceil(capacityFactor · T / E) tokens; > 0
 * @param activation     the experts' gated activation
 * @param scaling        multiplies the final routing weights (DeepSeek-V3's routed_scaling_factor); finite
 * @param gateUpLayout   how w_gate / w_up are stored
 * @param path           which expert-GEMM path to take (AUTO lets the kernel choose)
 */
public record MoeConfig(int experts, int topK, Routing routing, boolean normTopk, int groups, int topkGroups,
                        float capacityFactor, ExpertActivation activation, float scaling, GateUpLayout gateUpLayout,
                        ExpertPath path) {
    /** E limit of the routers and align kernels (BD_MOE_MAX_EXPERTS). */
    public static final int MAX_EXPERTS = 1024;

    public MoeConfig {
        require(routing != null, "routing must be set");
        require(activation != null, "activation must be set");
        require(gateUpLayout != null, "gateUpLayout must be set");
        require(path != null, "path must be set");
        require(experts >= 1 && experts <= MAX_EXPERTS, "experts (" + experts + ") must be in [1, " + MAX_EXPERTS + "]");
        require(topK >= 1, "topK (" + topK + ") must be >= 1");
        require(topK <= experts, "topK (" + topK + ") must be <= experts (" + experts + ")");
        require(groups >= 1, "groups (" + groups + ") must be >= 1");
        require(experts % groups == 0, "groups (" + groups + ") must divide experts (" + experts + ")");
        require(topkGroups >= 1, "topkGroups (" + topkGroups + ") must be >= 1");
        require(topkGroups <= groups, "topkGroups (" + topkGroups + ") must be <= groups (" + groups + ")");
        if (groups > 1) {
            require(routing == Routing.SIGMOID_GROUPED, "groups (" + groups + ") > 1 needs routing SIGMOID_GROUPED, got " + routing);
            require(experts / groups >= 2, "experts / groups (" + experts + " / " + groups + ") must be >= 2 (a group scores its two best experts)");
            int reachable = topkGroups * (experts / groups);
            require(topK <= reachable, "topK (" + topK + ") must be <= topkGroups * experts / groups (" + topkGroups + " * "
                    + experts + " / " + groups + " = " + reachable + ")");
        }
        require(capacityFactor > 0 && Float.isFinite(capacityFactor), "capacityFactor (" + capacityFactor + ") must be > 0 and finite");
        require(routing != Routing.TOP1_CAPACITY || topK == 1, "topK (" + topK + ") must be 1 for routing TOP1_CAPACITY");
        require(Float.isFinite(scaling), "scaling (" + scaling + ") must be finite");
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("MoeConfig: " + message);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().experts(experts).topK(topK).routing(routing).normTopk(normTopk).groups(groups).topkGroups(topkGroups)
                .capacityFactor(capacityFactor).activation(activation).scaling(scaling).gateUpLayout(gateUpLayout).path(path);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "MoeConfig[E=%d, k=%d, %s%s%s, %s%s%s%s]", experts, topK, routing.cliName(), normTopk ? ", norm" : "",
                groups > 1 ? ", groups " + groups + "/" + topkGroups : "", activation.cliName(),
                routing == Routing.TOP1_CAPACITY ? ", capacity " + capacityFactor : "", scaling != 1f ? ", scaling " + scaling : "",
                gateUpLayout != GateUpLayout.SEPARATE ? ", " + gateUpLayout : "");
    }

    /** Defaults: SOFTMAX_TOPK, no renormalisation, no groups, capacity factor 1, SwiGLU, scaling 1, separate gate/up, AUTO path. */
    public static final class Builder {
        private int experts = -1;
        private int topK = -1;
        private Routing routing = Routing.SOFTMAX_TOPK;
        private boolean normTopk;
        private int groups = 1;
        private int topkGroups = 1;
        private float capacityFactor = 1f;
        private ExpertActivation activation = ExpertActivation.SWIGLU;
        private float scaling = 1f;
        private GateUpLayout gateUpLayout = GateUpLayout.SEPARATE;
        private ExpertPath path = ExpertPath.AUTO;

        private Builder() {}

        public Builder experts(int v) {
            experts = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder routing(Routing v) {
            routing = v;
            return this;
        }

        public Builder normTopk(boolean v) {
            normTopk = v;
            return this;
        }

        public Builder groups(int v) {
            groups = v;
            return this;
        }

        public Builder topkGroups(int v) {
            topkGroups = v;
            return this;
        }

        public Builder capacityFactor(float v) {
            capacityFactor = v;
            return this;
        }

        public Builder activation(ExpertActivation v) {
            activation = v;
            return this;
        }

        public Builder scaling(float v) {
            scaling = v;
            return this;
        }

        public Builder gateUpLayout(GateUpLayout v) {
            gateUpLayout = v;
            return this;
        }

        public Builder path(ExpertPath v) {
            path = v;
            return this;
        }

        public MoeConfig build() {
            if (experts == -1) throw new IllegalArgumentException("MoeConfig: experts must be set");
            if (topK == -1) throw new IllegalArgumentException("MoeConfig: topK must be set");
            return new MoeConfig(experts, topK, routing, normTopk, groups, topkGroups, capacityFactor, activation, scaling, gateUpLayout, path);
        }
    }
}
