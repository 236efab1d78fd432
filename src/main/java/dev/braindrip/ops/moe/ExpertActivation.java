package dev.braindrip.ops.moe;

import dev.braindrip.ops.Activation;


/** The gated activation act(gate, up) of every expert (codes match bd_moe_act). */
public enum ExpertActivation {
    /** silu(gate) · up (Mixtral, Qwen, DeepSeek). */
    SWIGLU(0, "swiglu"),
    /** gelu_erf(gate) · up. */
    GEGLU(1, "geglu"),
    /** gelu_tanh(gate) · up. */
    GEGLU_TANH(2, "geglu_tanh"),
    /** gpt-oss: g = min(gate, 7), u = clamp(up, −7, 7); (u + 1) · g · sigmoid(1.702 g). */
    GPTOSS_CLAMPED(3, "gptoss-clamped");

    private final int code;
    private final String cliName;

    ExpertActivation(int code, String cliName) {
        this.code = code;
        this.cliName = cliName;
    }

    /** The bd_moe_act code. */
    public int code() {
        return code;
    }

    public String cliName() {
        return cliName;
    }

    /** The elementwise activation of the gate, for dense (shared-expert) GEMMs; none for GPTOSS_CLAMPED, which also clamps up. */
    public Activation gateActivation() {
        return switch (this) {
            case SWIGLU -> Activation.SILU;
            case GEGLU -> Activation.GELU;
            case GEGLU_TANH -> Activation.GELU_TANH;
            case GPTOSS_CLAMPED -> throw new UnsupportedOperationException("gptoss-clamped has no dense form (it clamps up as well as the gate)");
        };
    }

    public static ExpertActivation parse(String s) {
        for (ExpertActivation a : values()) if (a.cliName.equalsIgnoreCase(s) || a.name().equalsIgnoreCase(s)) return a;
        throw new IllegalArgumentException("unknown expert activation '" + s + "' (expected swiglu, geglu, geglu_tanh or gptoss-clamped)");
    }
}
