package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The generation engine on CUDA (the same code as on the CPU, the sampling kernel on the device):
 * continuous-batch greedy decoding equals the argmax chain of full forwards on the same device, in
 * F32 and BF16, and seeded samples do not depend on the batch around them. Skipped without a GPU.
 */
@GpuTest
class CudaGenerateTest {
    @TempDir
    Path tmp;

    private Transformer load(String arch, DType dtype) throws Exception {
        ModelConfig c = Architectures.of(arch).preset("tiny");
        Path dir = tmp.resolve(arch);
        if (!dir.toFile().exists()) Checkpoints.writeRandom(c, DType.F32, 17, dir);
        return Transformer.load(dir, Device.cuda(0), dtype);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen3", "gemma2", "gpt_oss", "qwen2_moe", "gpt2", "mod_llama", "diff_transformer", "sparse_llama"})
    void greedyContinuousBatchOnCuda(String arch) throws Exception {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            try (Transformer m = load(arch, dt); Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(3))) {
                Random r = new Random(3);
                List<int[]> prompts = new ArrayList<>();
                List<CompletableFuture<Completion>> fs = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    prompts.add(GreedyChainTest.randomPrompt(r, 1 + r.nextInt(40), m.config().vocabSize()));
                    fs.add(g.submit(Prompt.tokens(prompts.get(i)), SamplingParams.builder().temperature(0).maxTokens(4 + i).ignoreEos(true).build()));
                }
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(GreedyChainTest.argmaxChain(m, prompts.get(i), 4 + i), Generator.await(fs.get(i)).tokens(), arch + " " + dt + " prompt " + i);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama"})
    void seededSamplesIgnoreTheBatchOnCuda(String arch) throws Exception {
        try (Transformer m = load(arch, DType.F32)) {
            int[] prompt = {5, 6, 7, 8};
            SamplingParams p = SamplingParams.builder().temperature(1.1f).topP(0.9f).topK(100).maxTokens(16).ignoreEos(true).seed(77).build();
            int[] alone;
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(1))) {
                alone = g.generate(Prompt.tokens(prompt), p).tokens();
            }
            try (Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(8))) {
                List<CompletableFuture<Completion>> fs = new ArrayList<>();
                for (int i = 0; i < 5; i++) fs.add(g.submit(Prompt.tokens(i + 1, i + 2), SamplingParams.builder().maxTokens(3 + 3 * i).ignoreEos(true).build()));
                CompletableFuture<Completion> mine = g.submit(Prompt.tokens(prompt), p);
                assertArrayEquals(alone, Generator.await(mine).tokens());
                for (CompletableFuture<Completion> f : fs) assertEquals(FinishReason.LENGTH, Generator.await(f).finishReason());
            }
        }
    }
}
