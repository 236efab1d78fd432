package dev.braindrip.ops;

import dev.braindrip.tensor.DType;

/**
 * One fused-attention test case (ggml test-backend-ops style: one small record, odd shapes).
 * {@code form}: DENSE (B, S, H, D) tensors; VARLEN packed sequences of random lengths ≤ Sq / Skv
 * (sequence 0 keeps the maxima); CACHE a (B, Skv, Hkv, D) cache of which each sequence uses a
 * random prefix (seqused_k; sequence 0 uses all), optionally with RoPE applied to K by the kernel.
 */
record AttentionCase(String name, DType dtype, int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim, int headDimV,
                     AttentionSpec spec, boolean learnedSinks, Form form, boolean keyRope, float qAmp, long seed) {
    enum Form { DENSE, VARLEN, CACHE }

    static AttentionCase of(String name, DType dtype, int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim,
                            AttentionSpec spec) {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDim, spec, false, Form.DENSE, false, 1f,
                Math.abs((long) name.hashCode()) * 31 + seqQ * 7L + seqK + dtype.ordinal());
    }

    AttentionCase withDtype(DType d) {
        return new AttentionCase(name, d, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, learnedSinks, form, keyRope, qAmp,
                seed + d.ordinal() * 1000003L);
    }

    AttentionCase withHeadDimV(int dv) {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, dv, spec, learnedSinks, form, keyRope, qAmp, seed);
    }

    AttentionCase withLearnedSinks() {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, true, form, keyRope, qAmp, seed);
    }

    AttentionCase withForm(Form f) {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, learnedSinks, f, keyRope, qAmp, seed);
    }

    AttentionCase withKeyRope() {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, learnedSinks, Form.CACHE, true, qAmp,
                seed);
    }

    AttentionCase withQAmp(float a) {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, learnedSinks, form, keyRope, a, seed);
    }

    AttentionCase withName(String n) {
        return new AttentionCase(n, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, spec, learnedSinks, form, keyRope, qAmp, seed);
    }

    AttentionCase withSpec(AttentionSpec s) {
        return new AttentionCase(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, s, learnedSinks, form, keyRope, qAmp, seed);
    }

    @Override
    public String toString() {
        return String.format("%s [%s B%d Sq%d Skv%d Hq%d Hkv%d D%d Dv%d %s%s %s%s qAmp%g seed%d]", name, dtype, batch, seqQ, seqK, heads, kvHeads,
                headDim, headDimV, spec, learnedSinks ? " learnedSinks" : "", form, keyRope ? " keyRope" : "", qAmp, seed);
    }
}
