package dev.braindrip.model;

/**
 * Rotary position embedding of a model: θ, style, rotary width and the frequency scaling of long
 * context models, as Hugging Face's rope_scaling names them.
 *
 * @param theta          base (rope_theta)
 * @param interleaved    pairs (2i, 2i + 1) (Meta / GGUF) rather than HF's split halves (i, i + d/2)
 * @param rotaryDim      rotated channels (0 = the whole head dim; partial_rotary_factor otherwise)
 * @param scaling        NONE, LINEAR, LLAMA3 or YARN
 * @param factor         the scaling factor (1 for NONE)
 * @param lowFreqFactor  LLAMA3 low_freq_factor
 * @param highFreqFactor LLAMA3 high_freq_factor
 * @param originalMaxPositions LLAMA3 / YARN original_max_position_embeddings
 * @param betaFast       YARN beta_fast (32)
 * @param betaSlow       YARN beta_slow (1)
 * @param truncate       YARN: floor/ceil the correction range (HF default true; gpt-oss false)
 * @param attentionFactor YARN attention factor on cos and sin, 0 = 0.1·ln(factor) + 1
 */
public record RopeConfig(double theta, boolean interleaved, int rotaryDim, Scaling scaling, double factor, double lowFreqFactor,
                         double highFreqFactor, int originalMaxPositions, double betaFast, double betaSlow, boolean truncate,
                         double attentionFactor) {
    public enum Scaling { NONE, LINEAR, LLAMA3, YARN }

    public RopeConfig {
        ModelConfig.require(theta > 0 && Double.isFinite(theta), "rope.theta (" + theta + ") must be finite and > 0");
        ModelConfig.require(rotaryDim >= 0 && rotaryDim % 2 == 0, "rope.rotaryDim (" + rotaryDim + ") must be even and >= 0");
        ModelConfig.require(scaling != null, "rope.scaling must be given (NONE for none)");
        ModelConfig.require(factor > 0 && Double.isFinite(factor), "rope.factor (" + factor + ") must be finite and > 0");
        if (scaling == Scaling.LLAMA3) {
            ModelConfig.require(originalMaxPositions > 0, "rope.originalMaxPositions must be > 0 for llama3 scaling");
            ModelConfig.require(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor,
                    "rope: llama3 needs 0 < lowFreqFactor (" + lowFreqFactor + ") < highFreqFactor (" + highFreqFactor + ")");
        }
        if (scaling == Scaling.YARN) {
            ModelConfig.require(originalMaxPositions > 0, "rope.originalMaxPositions must be > 0 for yarn scaling");
            ModelConfig.require(betaFast > betaSlow, "rope: yarn needs betaFast (" + betaFast + ") > betaSlow (" + betaSlow + ")");
        }
        ModelConfig.require(attentionFactor >= 0 && Double.isFinite(attentionFactor), "rope.attentionFactor (" + attentionFactor + ") must be >= 0");
    }

    /** Plain split-half RoPE over the whole head. */
    public static RopeConfig of(double theta) {
        return new RopeConfig(theta, false, 0, Scaling.NONE, 1, 0, 0, 0, 32, 1, true, 0);
    }

    public static RopeConfig linear(double theta, double factor) {
        return new RopeConfig(theta, false, 0, Scaling.LINEAR, factor, 0, 0, 0, 32, 1, true, 0);
    }

    public static RopeConfig llama3(double theta, double factor, double lowFreqFactor, double highFreqFactor, int originalMax) {
        return new RopeConfig(theta, false, 0, Scaling.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMax, 32, 1, true, 0);
    }

    public static RopeConfig yarn(double theta, double factor, int originalMax, double betaFast, double betaSlow, boolean truncate,
                                  double attentionFactor) {
        return new RopeConfig(theta, false, 0, Scaling.YARN, factor, 0, 0, originalMax, betaFast, betaSlow, truncate, attentionFactor);
    }

    public RopeConfig withRotaryDim(int d) {
        return new RopeConfig(theta, interleaved, d, scaling, factor, lowFreqFactor, highFreqFactor, originalMaxPositions, betaFast,
                betaSlow, truncate, attentionFactor);
    }

    public RopeConfig withInterleaved(boolean v) {
        return new RopeConfig(theta, v, rotaryDim, scaling, factor, lowFreqFactor, highFreqFactor, originalMaxPositions, betaFast,
                betaSlow, truncate, attentionFactor);
    }

    /**
     * The inverse frequencies of the first {@code dim / 2} pairs (dim = rotaryDim or the head dim),
     * after scaling, in F32 as HF computes them: θ^(−2i/dim), then LINEAR ÷ factor; LLAMA3 bands
     * by wavelength; YARN's blend of interpolated and extrapolated frequencies.
     */
    public float[] inverseFrequencies(int headDim) {
        int dim = rotaryDim == 0 ? headDim : rotaryDim;
        int half = dim / 2;
        double[] base = new double[half];
        for (int i = 0; i < half; i++) base[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        float[] out = new float[half];
        switch (scaling) {
            case NONE -> { for (int i = 0; i < half; i++) out[i] = (float) base[i]; }
            case LINEAR -> { for (int i = 0; i < half; i++) out[i] = (float) (base[i] / factor); }
            case LLAMA3 -> {
                double lowWavelen = originalMaxPositions / lowFreqFactor, highWavelen = originalMaxPositions / highFreqFactor;
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / base[i];
                    double f;
                    if (wavelen < highWavelen) f = base[i];
                    else if (wavelen > lowWavelen) f = base[i] / factor;
                    else {
                        double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                        f = (1 - smooth) * base[i] / factor + smooth * base[i];
                    }
                    out[i] = (float) f;
                }
            }
            case YARN -> {
                double low = correctionDim(betaFast, dim), high = correctionDim(betaSlow, dim);
                if (truncate) {
                    low = Math.floor(low);
                    high = Math.ceil(high);
                }
                low = Math.max(low, 0);
                high = Math.min(high, dim - 1);
                if (low == high) high += 0.001;
                for (int i = 0; i < half; i++) {
                    double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
                    double extrapolationFactor = 1 - ramp;
                    double interp = base[i] / factor;
                    out[i] = (float) (interp * (1 - extrapolationFactor) + base[i] * extrapolationFactor);
                }
            }
        }
        return out;
    }

    private double correctionDim(double rotations, int dim) {
        return dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    /** The factor on cos and sin: YARN's attention factor, 1 otherwise. */
    public float mscale() {
        if (scaling != Scaling.YARN) return 1f;
        if (attentionFactor > 0) return (float) attentionFactor;
        return factor <= 1 ? 1f : (float) (0.1 * Math.log(factor) + 1);
    }
}
