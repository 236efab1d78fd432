package dev.braindrip.generate;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A generator whose engine thread died, or that was closed, says so (isRunning) and fails new requests at once instead of queueing them. */
class GeneratorFailureTest {
    @TempDir
    Path tmp;

    @Test
    void aDeadEngineThreadFailsLaterRequestsAtOnce() throws Exception {
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 3, tmp);
        try (Transformer m = Transformer.load(tmp, Device.cpu(), DType.F32); Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(2))) {
            assertTrue(g.isRunning());
            g.generate(Prompt.tokens(new int[] {1, 2, 3}), SamplingParams.greedy(3));
            // an Error from a token callback is not the request's own failure: it ends the engine thread
            CompletableFuture<Completion> dying = g.submit(Prompt.tokens(new int[] {1, 2}), SamplingParams.greedy(3), t -> {
                throw new AssertionError("callback broke");
            });
            assertThrows(ExecutionException.class, () -> dying.get(30, TimeUnit.SECONDS));
            assertFalse(g.isRunning(), "the engine thread died");
            CompletableFuture<Completion> later = g.submit(Prompt.tokens(new int[] {4, 5}), SamplingParams.greedy(3));
            ExecutionException e = assertThrows(ExecutionException.class, () -> later.get(5, TimeUnit.SECONDS), "failed at once, not queued");
            assertTrue(e.getCause().getMessage().startsWith("generate: the generator failed: callback broke"), e.getCause().getMessage());
        }
    }

    @Test
    void aClosedGeneratorIsNotRunning() throws Exception {
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 3, tmp);
        try (Transformer m = Transformer.load(tmp, Device.cpu(), DType.F32)) {
            Generator g = new Generator(m, null, GeneratorOptions.defaults().maxBatch(2));
            g.close();
            assertFalse(g.isRunning());
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> g.submit(Prompt.tokens(new int[] {4, 5}), SamplingParams.greedy(3)).get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("the generator is closed"), e.getCause().getMessage());
        }
    }
}
