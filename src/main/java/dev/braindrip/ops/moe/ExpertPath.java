package dev.braindrip.ops.moe;

/** Which expert-GEMM path a MoE layer takes (codes match bd_moe_path). */
public enum ExpertPath {
    /** Let the kernel decide: DECODE when tokens · k ≤ 8 (BD_MOE_DECODE_MAX_SLOTS), else GROUPED. */
    AUTO(-1),
    /** GEMV-style kernels over (slot, column block), no permutation: small batches. */
    DECODE(0),
    /** align → one grouped gate/up GEMM → one grouped down GEMM (tensor cores for F16/BF16 on CUDA). */
    GROUPED(1),
    /** The grouped path forced onto its F32 SIMT kernel (tests and peers). */
    GROUPED_SIMT(2);

    private final int code;

    ExpertPath(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The path of a bd_moe_path code. */
    public static ExpertPath of(int code) {
        for (ExpertPath p : values()) if (p.code == code) return p;
        throw new IllegalArgumentException("unknown bd_moe_path code " + code);
    }
}
