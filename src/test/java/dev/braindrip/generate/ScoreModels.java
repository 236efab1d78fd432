package dev.braindrip.generate;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.model.WeightRule;
import dev.braindrip.model.Weights;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded random models for the scoring tests, with weights large enough (std 0.2, not init's 0.02)
 * that attention is far from uniform, so the context a token gets changes its likelihood, and the
 * test-side oracle: log-softmax in double over the logits of plain one-row forwards.
 */
final class ScoreModels {
    private ScoreModels() {}

    /** The llama tiny preset (vocab 512, context 512), optionally with a BOS id. */
    static ModelConfig llamaTiny(int bos) {
        return Architectures.of("llama").preset("tiny").toBuilder().bosTokenId(bos).build();
    }

    static Transformer random(ModelConfig c, long seed, double std) {
        Arena wa = Arena.on(Device.cpu(), 1L << 30);
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (WeightRule r : Architectures.of(c.architecture()).weights(c, new HashSet<>())) {
            long n = 1;
            for (long d : r.shape()) n *= d;
            float[] v = new float[Math.toIntExact(n)];
            boolean norm = r.name().contains("norm.");
            for (int i = 0; i < v.length; i++) v[i] = norm ? 1f : (float) (std * gauss(rng));
            t.put(r.name(), wa.fromFloats(v, DType.F32, r.shape()));
        }
        return Transformer.of(c, Weights.of(t, DType.F32), wa);
    }

    static int[] randomIds(long seed, int n, int vocab) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.nextInt(vocab);
        return ids;
    }

    /** -log p(ids[j + 1] | ids[0..j]) for j = 0 .. n-2, from one forward of {@code ids} as a single row, in double. */
    static double[] nllOfOneForward(Transformer m, int[] ids) {
        float[] logits;
        try (Tensor y = m.forward(TokenBatch.of(ids))) {
            logits = y.toFloatArray();
        }
        int v = m.config().vocabSize();
        double[] out = new double[ids.length - 1];
        for (int j = 0; j + 1 < ids.length; j++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < v; k++) max = Math.max(max, logits[j * v + k]);
            double sum = 0;
            for (int k = 0; k < v; k++) sum += Math.exp(logits[j * v + k] - max);
            double logSoftmax = logits[j * v + ids[j + 1]] - max - Math.log(sum);
            out[j] = -logSoftmax;
        }
        return out;
    }

    /** Mean NLL of every token after the first with the whole text as context. */
    static double fullContextMean(Transformer m, int[] ids) {
        double s = 0;
        for (double x : nllOfOneForward(m, ids)) s += x;
        return s / (ids.length - 1);
    }

    /**
     * Hugging Face's perplexity guide, strided, written as plainly as there: for begin in 0, stride, …:
     * end = min(begin + window, L), trg_len = end − prev_end, the input is ids[begin:end], the labels
     * are the input with all but the last trg_len masked, shifted by one inside the model; stop once
     * end reaches L. Returns {sum of NLL, number of tokens scored}.
     */
    static double[] hfStrided(Transformer m, int[] ids, int window, int stride) {
        int seqLen = ids.length;
        int prevEnd = 0;
        double nllSum = 0;
        int nTokens = 0;
        for (int begin = 0; begin < seqLen; begin += stride) {
            int end = Math.min(begin + window, seqLen);
            int trgLen = end - prevEnd;
            int[] input = java.util.Arrays.copyOfRange(ids, begin, end);
            double[] nll = nllOfOneForward(m, input); // nll[j] predicts input[j + 1]
            for (int label = 1; label < input.length; label++) {
                boolean masked = label < input.length - trgLen;
                if (masked) continue;
                nllSum += nll[label - 1];
                nTokens++;
            }
            prevEnd = end;
            if (end == seqLen) break;
        }
        return new double[] {nllSum, nTokens};
    }

    private static double gauss(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
