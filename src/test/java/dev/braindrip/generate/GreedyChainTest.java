package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Greedy decoding through the generator (KV cache, continuous batching, more prompts than slots,
 * mixed prompt lengths and budgets) equals the argmax chain of full forwards, prompt by prompt.
 */
class GreedyChainTest {
    @TempDir
    Path tmp;

    /** The argmax (ties to the lower id) of full forwards over prompt + tokens so far. */
    static int[] argmaxChain(Transformer m, int[] prompt, int n) {
        return dev.braindrip.testing.Greedy.argmaxChain(m, prompt, n);
    }

    static Transformer tiny(String arch, Path dir, long seed) throws Exception {
        ModelConfig c = Architectures.of(arch).preset("tiny");
        Checkpoints.writeRandom(c, DType.F32, seed, dir);
        return Transformer.load(dir, Device.cpu(), DType.F32);
    }

    static int[] randomPrompt(Random r, int len, int vocab) {
        int[] p = new int[len];
        for (int i = 0; i < len; i++) p[i] = r.nextInt(vocab);
        return p;
    }

    static List<String> decoders() {
        List<String> out = new ArrayList<>();
        for (String a : Architectures.known()) {
            if (Architectures.of(a).preset("tiny").stack() == ModelConfig.Stack.DECODER) out.add(a);
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("decoders")
    void continuousBatchEqualsArgmaxChains(String arch) throws Exception {
        try (Transformer m = tiny(arch, tmp.resolve(arch), 5)) {
            Random r = new Random(11);
            int vocab = m.config().vocabSize();
            int[] lengths = {1, 9, 4, 17, 2, 30, 6};
            int[] budgets = {5, 12, 3, 8, 15, 4, 9};
            List<int[]> prompts = new ArrayList<>();
            for (int len : lengths) prompts.add(randomPrompt(r, len, vocab));
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(3))) {
                assertEquals(3, g.slots());
                List<CompletableFuture<Completion>> fs = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    fs.add(g.submit(Prompt.tokens(prompts.get(i)), SamplingParams.builder().temperature(0).maxTokens(budgets[i]).ignoreEos(true).build()));
                }
                for (int i = 0; i < prompts.size(); i++) {
                    Completion c = Generator.await(fs.get(i));
                    int[] want = argmaxChain(m, prompts.get(i), budgets[i]);
                    assertArrayEquals(want, c.tokens(), arch + " prompt " + i + " (" + lengths[i] + " tokens)");
                    assertEquals(FinishReason.LENGTH, c.finishReason());
                    assertEquals(lengths[i], c.promptTokens());
                }
            }
        }
    }
}
