package dev.braindrip.cli;

import dev.braindrip.bench.StreamingSoak;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** braindrip bench soak: one StreamingLLM sequence of many tokens, memory sampled as it goes. */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "StreamingLLM soak: one sequence generates --tokens tokens through sink + window caches (--streaming), printing the "
                + "resident memory, KV-cache bytes and activation arena every --every tokens.")
public final class BenchSoakCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--model", paramLabel = "DIR|demo", description = "Model directory, or 'demo' (default: a random --arch model).")
    String model;

    @Option(names = "--arch", defaultValue = "llama", description = "Architecture of the random model (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--preset", defaultValue = "tiny", description = "Its preset (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--tokens", defaultValue = "1000000", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    long tokens;

    @Option(names = "--every", defaultValue = "100000", description = "Sample every N tokens (default: ${DEFAULT-VALUE}).")
    long every;

    @Option(names = "--streaming", defaultValue = "4,1020", paramLabel = "SINKS,WINDOW", description = "(default: ${DEFAULT-VALUE}).")
    String streaming;

    @Override
    public Integer call() throws Exception {
        var s = OptionParsers.streaming("--streaming", streaming);
        Device device = common.device();
        Path dir = model == null ? null : ModelArg.dir(model);
        Path tmp = null;
        if (dir == null) {
            ModelConfig c = Architectures.of(arch).preset(preset);
            tmp = Files.createTempDirectory("braindrip-soak");
            Checkpoints.writeRandom(c, common.dtype(device), common.seed, tmp);
            dir = tmp;
        }
        try (Transformer m = Transformer.load(dir, device, common.dtype(device))) {
            System.out.printf(Locale.ROOT, "braindrip bench soak: %s on %s, streaming %d,%d, %d tokens%n", model == null ? arch + " " + preset : model,
                    device, s.sinks(), s.window(), tokens);
            System.out.printf(Locale.ROOT, "%12s %10s %12s %12s %14s %12s %12s %10s%n", "tokens", "seconds", "rss_MB", "kv_cache_MB",
                    "arena_alloc_MB", "arena_peak_MB", "pooled_MB", "tok/s");
            StreamingSoak.run(m, s, tokens, every, x -> System.out.printf(Locale.ROOT, "%12d %10.1f %12.1f %12.3f %14.3f %12.3f %12.3f %10.1f%n",
                    x.tokens(), x.seconds(), x.rssBytes() / 1e6, x.cacheBytes() / 1e6, x.arenaAllocated() / 1e6, x.arenaPeak() / 1e6,
                    x.arenaPooled() / 1e6, x.tokensPerSecond()));
        } finally {
            if (tmp != null) {
                try (var w = Files.walk(tmp)) {
                    w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        return 0;
    }
}
