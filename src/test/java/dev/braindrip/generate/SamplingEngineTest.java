package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sampling through the engine: seeds independent of batch position and size, logprobs of the raw logits, penalties over prompt and output. */
class SamplingEngineTest {
    @TempDir
    static Path tmp;
    static Transformer model;

    @BeforeAll
    static void load() throws Exception {
        model = GreedyChainTest.tiny("llama", tmp.resolve("m"), 31);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static SamplingParams sampled(long seed) {
        return SamplingParams.builder().temperature(1.3f).topK(200).topP(0.95f).minP(0.01f).maxTokens(12).ignoreEos(true).seed(seed).build();
    }

    static int[] run(int maxBatch, List<int[]> others, int position, int[] prompt, SamplingParams p) {
        try (Generator g = new Generator(model, null, GeneratorOptions.defaults().maxBatch(maxBatch))) {
            List<CompletableFuture<Completion>> fs = new ArrayList<>();
            CompletableFuture<Completion> mine = null;
            Random r = new Random(position);
            for (int i = 0; i <= others.size(); i++) {
                if (i == position) {
                    mine = g.submit(Prompt.tokens(prompt), p);
                } else {
                    int[] o = others.get(i < position ? i : i - 1);
                    fs.add(g.submit(Prompt.tokens(o), SamplingParams.builder().temperature(0.9f).maxTokens(3 + r.nextInt(15)).ignoreEos(true).build()));
                }
            }
            for (CompletableFuture<Completion> f : fs) Generator.await(f);
            return Generator.await(mine).tokens();
        }
    }

    @Test
    void seededSamplesIgnoreTheBatch() {
        Random r = new Random(2);
        int v = model.config().vocabSize();
        int[] prompt = GreedyChainTest.randomPrompt(r, 9, v);
        List<int[]> others = new ArrayList<>();
        for (int i = 0; i < 6; i++) others.add(GreedyChainTest.randomPrompt(r, 1 + r.nextInt(25), v));
        int[] alone = run(1, List.of(), 0, prompt, sampled(42));
        assertArrayEquals(alone, run(1, List.of(), 0, prompt, sampled(42)), "the same seed gives the same tokens");
        assertArrayEquals(alone, run(3, others, 4, prompt, sampled(42)), "batch of 3 slots, position 4");
        assertArrayEquals(alone, run(8, others, 0, prompt, sampled(42)), "batch of 8 slots, position 0");
        assertArrayEquals(alone, run(2, others, 6, prompt, sampled(42)), "batch of 2 slots, last");
        assertNotEquals(Arrays.toString(alone), Arrays.toString(run(1, List.of(), 0, prompt, sampled(43))), "another seed, other tokens");
        int[] greedy = GreedyChainTest.argmaxChain(model, prompt, 12);
        assertNotEquals(Arrays.toString(greedy), Arrays.toString(alone), "temperature 1.3 is not greedy");
    }

    /** Logprobs are log-softmax of the raw logits of a full forward over prompt + tokens so far; top N most likely first. */
    @Test
    void logprobsOfTheRawLogits() {
        int[] prompt = {3, 14, 15, 92, 65};
        int n = 5;
        SamplingParams p = SamplingParams.builder().temperature(0.7f).repetitionPenalty(1.5f).maxTokens(8).ignoreEos(true).seed(9).logprobs(n).build();
        Completion c;
        try (Generator g = new Generator(model, null, GeneratorOptions.defaults())) {
            c = g.generate(Prompt.tokens(prompt), p);
        }
        assertEquals(8, c.logprobs().size());
        int v = model.config().vocabSize();
        int[] seq = prompt.clone();
        for (int i = 0; i < 8; i++) {
            double[] ls = logSoftmaxLast(seq, v);
            TokenLogprob lp = c.logprobs().get(i);
            assertEquals(c.tokens()[i], lp.token());
            assertEquals(ls[lp.token()], lp.logprob(), 1e-4, "step " + i);
            assertEquals(n, lp.topIds().length);
            Integer[] order = new Integer[v];
            for (int j = 0; j < v; j++) order[j] = j;
            Arrays.sort(order, (a, b) -> ls[a] != ls[b] ? Double.compare(ls[b], ls[a]) : Integer.compare(a, b));
            for (int k = 0; k < n; k++) {
                assertEquals(ls[order[k]], lp.topLogprobs()[k], 1e-4, "step " + i + " top " + k);
                assertEquals(ls[lp.topIds()[k]], lp.topLogprobs()[k], 1e-4, "step " + i + " top " + k + " id/logprob pair");
            }
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = c.tokens()[i];
        }
    }

    private static double[] logSoftmaxLast(int[] seq, int v) {
        float[] l;
        try (Tensor t = model.forward(TokenBatch.of(seq))) {
            l = t.toFloatArray();
        }
        int base = (seq.length - 1) * v;
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < v; j++) max = Math.max(max, l[base + j]);
        for (int j = 0; j < v; j++) sum += Math.exp(l[base + j] - max);
        double[] out = new double[v];
        for (int j = 0; j < v; j++) out[j] = l[base + j] - max - Math.log(sum);
        return out;
    }

    /**
     * Greedy under penalties equals the argmax of full-forward logits penalized by the rules of
     * CLI.md: repetition over prompt and output ids, presence and frequency over output ids.
     */
    @Test
    void penaltiesOverPromptAndOutput() {
        int v = model.config().vocabSize();
        // the prompt holds the model's own likely continuation, so that penalizing it must change the argmax
        int[] start = GreedyChainTest.randomPrompt(new Random(4), 6, v);
        int[] likely = GreedyChainTest.argmaxChain(model, start, 10);
        int[] prompt = Arrays.copyOf(start, 16);
        System.arraycopy(likely, 0, prompt, 6, 10);
        float rep = 1.8f, pres = 0.7f, freq = 0.4f;
        int steps = 14;
        Completion c;
        try (Generator g = new Generator(model, null, GeneratorOptions.defaults())) {
            c = g.generate(Prompt.tokens(prompt), SamplingParams.builder().temperature(0).repetitionPenalty(rep).presencePenalty(pres)
                    .frequencyPenalty(freq).maxTokens(steps).ignoreEos(true).build());
        }
        int[] seq = prompt.clone();
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            float[] l;
            try (Tensor t = model.forward(TokenBatch.of(seq))) {
                l = t.toFloatArray();
            }
            double[] x = new double[v];
            for (int j = 0; j < v; j++) x[j] = l[(seq.length - 1) * v + j];
            Set<Integer> seen = new HashSet<>();
            for (int id : seq) seen.add(id);
            for (int id : seen) x[id] = x[id] > 0 ? x[id] / rep : x[id] * rep;
            int[] count = new int[v];
            for (int id : out) count[id]++;
            for (int j = 0; j < v; j++) if (count[j] > 0) x[j] -= pres + freq * count[j];
            int best = 0;
            for (int j = 1; j < v; j++) if (x[j] > x[best]) best = j;
            out.add(best);
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        assertArrayEquals(out.stream().mapToInt(Integer::intValue).toArray(), c.tokens());
        int[] plain = GreedyChainTest.argmaxChain(model, prompt, steps);
        assertTrue(!Arrays.equals(plain, c.tokens()), "the penalties changed the output (else the test proves nothing)");
    }
}
