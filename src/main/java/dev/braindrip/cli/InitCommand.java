package dev.braindrip.cli;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.tensor.DType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** braindrip init (CLI.md): a randomly initialized model of an architecture, in Hugging Face layout. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = "Writes a randomly initialized model (config.json + model.safetensors, Hugging Face names) for tests and benchmarks.",
        footer = {"", "Architectures and presets:",
                "  llama (tiny, small, llama-3.2-1b), mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma2, gpt_oss, phi3small, gpt2, bert (tiny, small)",
                "  t5 (tiny, small, t5-small, t5-base: original, ReLU, tied; t5-v1_1-small, t5-v1_1-base: gated-GELU, untied)"})
public final class InitCommand implements Callable<Integer> {
    @Option(names = "--arch", required = true, paramLabel = "NAME", description = "Hugging Face model_type (see the list below).")
    String arch;

    @Option(names = "--preset", defaultValue = "tiny", paramLabel = "tiny|small|NAME", description = "Shape (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|bf16|f16", description = "Weight dtype (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
    Path out;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        ModelConfig c;
        try {
            c = Architectures.of(arch).preset(preset);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: " + e.getMessage());
        }
        DType dt = DType.parse(dtype);
        Checkpoints.writeRandom(c, dt, seed, out);
        System.err.println("braindrip: wrote " + c.architecture() + " (" + preset + ", " + dtype + ") to " + out);
        return 0;
    }
}
