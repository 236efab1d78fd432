package dev.braindrip.testing;

import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/** The greedy oracle of the generation tests: the argmax chain of full forwards, with no KV cache. */
public final class Greedy {
    private Greedy() {}

    /** The n ids that argmax (ties to the lower id) of full forwards over prompt + ids so far picks. */
    public static int[] argmaxChain(Transformer m, int[] prompt, int n) {
        int[] seq = prompt.clone();
        int v = m.config().vocabSize();
        for (int i = 0; i < n; i++) {
            float[] l;
            try (Tensor t = m.forward(TokenBatch.of(seq))) {
                l = t.toFloatArray();
            }
            int base = (seq.length - 1) * v, best = 0;
            for (int j = 1; j < v; j++) if (l[base + j] > l[base + best]) best = j;
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        return Arrays.copyOfRange(seq, prompt.length, seq.length);
    }
}
