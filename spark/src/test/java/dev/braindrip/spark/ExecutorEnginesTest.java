package dev.braindrip.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor's engine cache: a healthy engine is reused; a broken (failed or closed) one is evicted and a fresh one loaded. */
class ExecutorEnginesTest {
    @TempDir
    Path tmp;

    @Test
    void aBrokenEngineIsEvictedAndReloaded() throws Exception {
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 7, tmp);
        GenerateSpec spec = GenerateSpec.builder().model(tmp.toString()).device("cpu").batchSize(4).seed(3).build();
        Prompt prompt = Prompt.tokens(new int[] {5, 17, 42});
        SamplingParams greedy = SamplingParams.greedy(6);
        int before = ExecutorEngines.loads();
        ExecutorEngines.Engine first = ExecutorEngines.get(spec, Device.cpu());
        Completion want = first.generator().generate(prompt, greedy);
        ExecutorEngines.Engine again = ExecutorEngines.get(spec, Device.cpu());
        assertSame(first, again, "a healthy engine is reused");
        assertEquals(before + 1, ExecutorEngines.loads());
        ExecutorEngines.release(again);

        // its engine thread dies (an Error in a token callback is not one request's failure)
        CompletableFuture<Completion> dying = first.generator().submit(prompt, greedy, t -> {
            throw new AssertionError("worker killed by the test");
        });
        assertThrows(ExecutionException.class, () -> dying.get(30, TimeUnit.SECONDS));
        assertFalse(first.generator().isRunning());
        ExecutorEngines.Engine fresh = ExecutorEngines.get(spec, Device.cpu());
        assertNotSame(first, fresh, "the failed engine is not handed out again");
        assertEquals(before + 2, ExecutorEngines.loads(), "a new engine was loaded");
        assertTrue(fresh.generator().isRunning());
        Completion got = fresh.generator().generate(prompt, greedy);
        assertArrayEquals(want.tokens(), got.tokens(), "the fresh engine generates as the first did");
        ExecutorEngines.release(first); // the task that held the broken engine lets it go: it is closed now
        assertThrows(ExecutionException.class, () -> first.generator().submit(prompt, greedy).get(5, TimeUnit.SECONDS));

        // a task closed its generator: also evicted
        fresh.generator().close();
        ExecutorEngines.release(fresh);
        ExecutorEngines.Engine third = ExecutorEngines.get(spec, Device.cpu());
        assertNotSame(fresh, third);
        assertEquals(before + 3, ExecutorEngines.loads());
        assertArrayEquals(want.tokens(), third.generator().generate(prompt, greedy).tokens());
        ExecutorEngines.release(third);
    }
}
