package dev.braindrip.bench;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Session;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Arena;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The StreamingLLM soak: one sequence generating {@code tokens} tokens through sink + window caches,
 * with the process's resident memory, the KV-cache bytes and the activation arena sampled every
 * {@code every} tokens. Memory must stay flat: the caches are fixed at sinks + window slots and the
 * activation pool reuses its blocks; what grows is the completion's own list of token ids (4 bytes
 * per token, kept because the caller asked for them).
 */
public final class StreamingSoak {
    private StreamingSoak() {}

    /** One sample: tokens so far, seconds since the start, RSS and arena figures in bytes, decode tokens/s over the last interval. */
    public record Sample(long tokens, double seconds, long rssBytes, long cacheBytes, long arenaAllocated, long arenaPeak, long arenaPooled,
                         double tokensPerSecond) {}

    public static List<Sample> run(Transformer model, Session.Streaming streaming, long tokens, long every, Consumer<Sample> onSample) {
        if (tokens < 1 || tokens > Integer.MAX_VALUE) throw new IllegalArgumentException("--tokens (" + tokens + ") must be in [1, 2^31)");
        if (every < 1) throw new IllegalArgumentException("--every (" + every + ") must be >= 1");
        List<Sample> out = new ArrayList<>();
        Arena a = model.activations();
        long t0 = System.nanoTime();
        long[] last = {0, t0};
        try (Generator g = new Generator(model, null, GeneratorOptions.defaults().maxBatch(1).streaming(streaming))) {
            Consumer<dev.braindrip.generate.GeneratedToken> tick = t -> {
                long n = t.index() + 1L;
                if (t.token() < 0 || n % every != 0) return;
                long now = System.nanoTime();
                Sample s = new Sample(n, (now - t0) / 1e9, rss(), g.cacheBytes(), a.allocatedBytes(), a.peakBytes(), a.pooledBytes(),
                        (n - last[0]) / ((now - last[1]) / 1e9));
                last[0] = n;
                last[1] = now;
                out.add(s);
                if (onSample != null) onSample.accept(s);
            };
            CompletableFuture<Completion> f = g.submit(Prompt.tokens(1, 2, 3, 4),
                    SamplingParams.builder().maxTokens((int) tokens).ignoreEos(true).seed(1).build(), tick);
            Completion c = Generator.await(f);
            if (c.generatedTokens() != tokens) throw new IllegalStateException("soak: generated " + c.generatedTokens() + " of " + tokens + " tokens");
        }
        return out;
    }

    /** VmRSS of this process from /proc, or -1 where there is no /proc. */
    public static long rss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
