package dev.braindrip.ops.moe;

/** How the experts' gate and up projections are stored (codes match bd_moe_gate_up_layout). */
public enum GateUpLayout {
    /** w_gate (E, F, H) and w_up (E, F, H); biases (E, F) each. */
    SEPARATE(0),
    /** w_gate (E, 2F, H) with row 2f = gate f and row 2f+1 = up f (gpt-oss); no w_up; bias (E, 2F) in the same order. */
    INTERLEAVED(1),
    /** w_gate (E, 2F, H) with rows 0..F−1 gate and F..2F−1 up (fused w13 checkpoints); no w_up. */
    CONCAT(2);

    private final int code;

    GateUpLayout(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
