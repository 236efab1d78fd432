package dev.braindrip.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** braindrip inspect (CLI.md): what a checkpoint is, without loading its weights. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Architecture, parameters (total and active per token), dtypes, layer pattern, features and KV-cache bytes per token; "
                + "for a Byte Latent Transformer also FLOPs per byte, and patch statistics of a text with --text.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo' (path: where it was unpacked).")
    String model;

    @Option(names = "--json", description = "Write one JSON object instead of text.")
    boolean json;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    @Option(names = "--text", paramLabel = "FILE", description = "Byte Latent Transformers: patch statistics of this UTF-8 text (the model "
            + "runs its patcher on the CPU, in windows of max_position_embeddings bytes).")
    Path text;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> info = Checkpoints.inspect(ModelArg.dir(model));
        if (text != null) info.put("patches", patchStats());
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(info));
            return 0;
        }
        for (Map.Entry<String, Object> e : info.entrySet()) {
            if (e.getKey().equals("config")) continue;
            if (e.getValue() instanceof List<?> l && e.getKey().equals("layer_pattern")) {
                System.out.println("layer_pattern:");
                for (int i = 0; i < l.size(); i++) System.out.printf("  %3d  %s%n", i, l.get(i));
            } else {
                System.out.println(e.getKey() + ": " + e.getValue());
            }
        }
        return 0;
    }

    /** Patches of the text: count, mean / min / max bytes, starts inside a multi-byte UTF-8 character; FLOPs per byte at that mean. */
    private Map<String, Object> patchStats() throws java.io.IOException {
        if (!java.nio.file.Files.isRegularFile(text)) throw new java.nio.file.NoSuchFileException(text.toString(), null, "text file not found");
        byte[] bytes = java.nio.file.Files.readAllBytes(text);
        try (Transformer m = Transformer.load(ModelArg.dir(model), Device.cpu(), DType.F32)) {
            ModelConfig c = m.config();
            if (!c.isByteLatent()) throw new IllegalArgumentException("usage: --text is for Byte Latent Transformers; " + model + " is " + c.architecture());
            int window = Math.max(2, c.maxPositions());
            long patches = 0, inside = 0, min = Long.MAX_VALUE, max = 0, covered = 0;
            for (int from = 0; from < bytes.length; from += window - 1) {
                int n = Math.min(window - 1, bytes.length - from);
                int[] ids = new int[n + 1];
                ids[0] = c.bosTokenId() >= 0 ? c.bosTokenId() : 1;
                for (int i = 0; i < n; i++) ids[i + 1] = (bytes[from + i] & 0xFF) + 4;
                int start = 0;
                for (int len : m.patchLengths(ids)) {
                    if (len == 0) continue;
                    patches++;
                    covered += len;
                    min = Math.min(min, len);
                    max = Math.max(max, len);
                    if (start > 0 && (ids[start] - 4 & 0xC0) == 0x80) inside++;
                    start += len;
                }
            }
            double mean = patches == 0 ? 0 : (double) covered / patches;
            Map<String, Object> o = new java.util.LinkedHashMap<>();
            o.put("bytes", bytes.length);
            o.put("patches", patches);
            o.put("mean_patch_bytes", mean);
            o.put("min_patch_bytes", patches == 0 ? 0 : min);
            o.put("max_patch_bytes", max);
            o.put("starts_inside_utf8_char", inside);
            o.put("flops_per_byte", Checkpoints.flopsPerByte(c, Architectures.of(c.architecture()).weights(c, new java.util.HashSet<>()), mean, 1024));
            o.put("note", "windows of " + window + " ids (BOS + bytes), each patched alone; the BOS counts in the first patch of each window");
            return o;
        }
    }
}
