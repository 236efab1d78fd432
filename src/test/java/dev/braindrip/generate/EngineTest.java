package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.LayerSpec;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Session;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine's scheduling: StreamingLLM caches, the KV budget, cancellation, submissions from several threads, errors. */
class EngineTest {
    @TempDir
    Path tmp;

    static int argmaxLast(Transformer m, int[] seq) {
        int v = m.config().vocabSize();
        try (Tensor t = m.forward(TokenBatch.of(seq))) {
            float[] l = t.toFloatArray();
            int base = (seq.length - 1) * v, best = 0;
            for (int j = 1; j < v; j++) if (l[base + j] > l[base + best]) best = j;
            return best;
        }
    }

    /**
     * One layer: its keys and values depend on each token alone, so a StreamingLLM step equals a
     * fresh forward over the tokens the cache keeps (the sinks, then the last window tokens) at
     * positions 0..n-1. Prompts longer than sinks + window exercise the prompt tail fed as steps.
     */
    @Test
    void streamingLlmEqualsForwardOverTheKeptTokens() throws Exception {
        ModelConfig c = Architectures.of("llama").preset("tiny").toBuilder().layers(1, LayerSpec.full(LayerSpec.Ffn.DENSE)).build();
        Path dir = tmp.resolve("one-layer");
        Checkpoints.writeRandom(c, DType.F32, 3, dir);
        int sinks = 2, window = 6, steps = 25;
        try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32);
             Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(2).streaming(sinks, window))) {
            Random r = new Random(5);
            int[][] prompts = {GreedyChainTest.randomPrompt(r, 3, c.vocabSize()), GreedyChainTest.randomPrompt(r, 13, c.vocabSize()),
                    GreedyChainTest.randomPrompt(r, 8, c.vocabSize())};
            List<CompletableFuture<Completion>> fs = new ArrayList<>();
            SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(steps).ignoreEos(true).build();
            for (int[] pr : prompts) fs.add(g.submit(Prompt.tokens(pr), p));
            for (int i = 0; i < prompts.length; i++) {
                int[] got = Generator.await(fs.get(i)).tokens();
                List<Integer> seq = new ArrayList<>();
                for (int t : prompts[i]) seq.add(t);
                int[] want = new int[steps];
                for (int s = 0; s < steps; s++) {
                    int n = seq.size();
                    int[] kept;
                    if (n <= sinks + window) {
                        kept = seq.stream().mapToInt(Integer::intValue).toArray();
                    } else {
                        kept = new int[sinks + window];
                        for (int j = 0; j < sinks; j++) kept[j] = seq.get(j);
                        for (int j = 0; j < window; j++) kept[sinks + j] = seq.get(n - window + j);
                    }
                    want[s] = argmaxLast(m, kept);
                    seq.add(want[s]);
                }
                assertArrayEquals(want, got, "prompt " + i + " (" + prompts[i].length + " tokens)");
            }
        }
    }

    @Test
    void streamingRefusesScaledRope() throws Exception {
        ModelConfig c = Architectures.of("llama").preset("tiny");
        c = c.toBuilder().rope(dev.braindrip.model.RopeConfig.llama3(10000, 8, 1, 4, 64)).build();
        Path dir = tmp.resolve("l3");
        Checkpoints.writeRandom(c, DType.F32, 3, dir);
        try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32)) {
            Exception e = assertThrows(UnsupportedOperationException.class,
                    () -> new Generator(m, null, GeneratorOptions.defaults().streaming(4, 16)).close());
            assertTrue(e.getMessage().contains("LLAMA3"), e.getMessage());
        }
    }

    /** A budget of two sequences: slots = 2 whatever maxBatch says, the rest wait, and every request still completes correctly. */
    @Test
    void kvBudgetBoundsTheSlots() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("llama", tmp.resolve("m"), 9)) {
            int cap = 64;
            long perSlot = Session.slotBytes(m.config(), m.dtype(), cap, null);
            GeneratorOptions o = GeneratorOptions.defaults().maxBatch(16).maxSequenceLength(cap).kvBudgetBytes(2 * perSlot + perSlot / 2);
            try (Generator g = new Generator(m, null, o)) {
                assertEquals(2, g.slots());
                assertTrue(g.cacheBytes() <= o.kvBudgetBytes(), g.cacheBytes() + " bytes of cache for a budget of " + o.kvBudgetBytes());
                Random r = new Random(1);
                List<int[]> prompts = new ArrayList<>();
                List<CompletableFuture<Completion>> fs = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    prompts.add(GreedyChainTest.randomPrompt(r, 1 + r.nextInt(20), m.config().vocabSize()));
                    fs.add(g.submit(Prompt.tokens(prompts.get(i)), SamplingParams.builder().temperature(0).maxTokens(6).ignoreEos(true).build()));
                }
                for (int i = 0; i < 6; i++) {
                    assertArrayEquals(GreedyChainTest.argmaxChain(m, prompts.get(i), 6), Generator.await(fs.get(i)).tokens(), "prompt " + i);
                }
            }
            Exception e = assertThrows(IllegalArgumentException.class,
                    () -> new Generator(m, null, GeneratorOptions.defaults().maxSequenceLength(cap).kvBudgetBytes(perSlot - 1)));
            assertTrue(e.getMessage().contains("budget"), e.getMessage());
        }
    }

    /** A prompt longer than the sequence length fails alone; a too-long generation stops at the length with 'length'. */
    @Test
    void contextLimits() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("llama", tmp.resolve("m"), 9);
             Generator g = new Generator(m, null, GeneratorOptions.defaults().maxSequenceLength(16))) {
            CompletableFuture<Completion> bad = g.submit(Prompt.tokens(new int[17]), SamplingParams.greedy(4));
            Exception e = assertThrows(IllegalArgumentException.class, () -> Generator.await(bad));
            assertTrue(e.getMessage().contains("17 tokens"), e.getMessage());
            Completion c = g.generate(Prompt.tokens(new int[10]), SamplingParams.builder().temperature(0).maxTokens(100).ignoreEos(true).build());
            assertEquals(FinishReason.LENGTH, c.finishReason());
            assertEquals(6, c.generatedTokens(), "10 prompt tokens + 6 fill the 16");
            Exception oob = assertThrows(IllegalArgumentException.class, () -> g.generate(Prompt.tokens(1, 99999), SamplingParams.greedy(2)));
            assertTrue(oob.getMessage().contains("99999"), oob.getMessage());
        }
    }

    /** Cancelling a running request frees its slot; the others complete unchanged. */
    @Test
    void cancelFreesTheSlot() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("llama", tmp.resolve("m"), 9);
             Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(1))) {
            CountDownLatch started = new CountDownLatch(1);
            CompletableFuture<Completion> lng = g.submit(Prompt.tokens(1, 2, 3),
                    SamplingParams.builder().temperature(0).maxTokens(400).ignoreEos(true).build(), t -> started.countDown());
            int[] p = {4, 5, 6};
            CompletableFuture<Completion> next = g.submit(Prompt.tokens(p), SamplingParams.builder().temperature(0).maxTokens(5).ignoreEos(true).build());
            assertTrue(started.await(30, TimeUnit.SECONDS));
            lng.cancel(true);
            assertThrows(CancellationException.class, () -> Generator.await(lng));
            assertArrayEquals(GreedyChainTest.argmaxChain(m, p, 5), next.get(60, TimeUnit.SECONDS).tokens(), "the waiting request ran after the cancel");
        }
    }

    /** Eight threads submit at once; every completion equals its own greedy chain. */
    @Test
    void submissionsFromSeveralThreads() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("qwen3", tmp.resolve("m"), 4);
             Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(5))) {
            int threads = 8;
            List<int[]> prompts = Collections.synchronizedList(new ArrayList<>(Collections.nCopies(threads, (int[]) null)));
            List<Completion> done = Collections.synchronizedList(new ArrayList<>(Collections.nCopies(threads, (Completion) null)));
            CountDownLatch go = new CountDownLatch(1);
            AtomicInteger errors = new AtomicInteger();
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                int k = i;
                Thread t = new Thread(() -> {
                    try {
                        int[] pr = GreedyChainTest.randomPrompt(new Random(k), 2 + k, m.config().vocabSize());
                        prompts.set(k, pr);
                        go.await();
                        done.set(k, g.generate(Prompt.tokens(pr), SamplingParams.builder().temperature(0).maxTokens(3 + k).ignoreEos(true).build()));
                    } catch (Throwable e) {
                        e.printStackTrace();
                        errors.incrementAndGet();
                    }
                });
                t.start();
                ts.add(t);
            }
            go.countDown();
            for (Thread t : ts) t.join(120_000);
            assertEquals(0, errors.get());
            for (int i = 0; i < threads; i++) {
                assertArrayEquals(GreedyChainTest.argmaxChain(m, prompts.get(i), 3 + i), done.get(i).tokens(), "thread " + i);
            }
        }
    }

    /** submitAll hands the engine the whole batch: one prefill for all, then lockstep decode steps. */
    @Test
    void submitAllIsAdmittedTogether() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("llama", tmp.resolve("m"), 9);
             Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(8))) {
            Random r = new Random(8);
            List<Prompt> ps = new ArrayList<>();
            List<int[]> raw = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                raw.add(GreedyChainTest.randomPrompt(r, 1 + r.nextInt(30), m.config().vocabSize()));
                ps.add(Prompt.tokens(raw.get(i)));
            }
            List<CompletableFuture<Completion>> fs = g.submitAll(ps, List.of(SamplingParams.builder().temperature(0).maxTokens(5).ignoreEos(true).build()), null);
            for (int i = 0; i < 6; i++) assertArrayEquals(GreedyChainTest.argmaxChain(m, raw.get(i), 5), Generator.await(fs.get(i)).tokens());
            assertEquals(4, g.stats().decodeSteps(), "the first token comes from the one prefill, then 4 steps for all six");
            long prompt = raw.stream().mapToLong(p -> p.length).sum();
            assertEquals(prompt, g.stats().promptTokens());
            assertEquals(30, g.stats().generatedTokens(), "counted before the futures complete");
        }
    }

    /** After close, submissions fail with a clear error, and waiting ones are cancelled. */
    @Test
    void closedGenerator() throws Exception {
        try (Transformer m = GreedyChainTest.tiny("llama", tmp.resolve("m"), 9)) {
            Generator g = new Generator(m, null, GeneratorOptions.defaults());
            g.close();
            Exception e = assertThrows(IllegalStateException.class, () -> g.generate(Prompt.tokens(1, 2), SamplingParams.greedy(2)));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertEquals(0, m.activations().liveTensors(), "no activation left alive");
        }
    }
}
