package dev.braindrip.cli;

import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** braindrip forward (CLI.md): a model on token ids, one --tokens per row, logits or hidden states to a safetensors file. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Runs a model on token ids (rows of different lengths as one ragged batch) and writes F32 'logits' (B, S, V) "
                + "for causal LMs or 'hidden' (B, S, H) for encoders; positions past a row's length hold zeros.")
public final class ForwardCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model directory (config.json + *.safetensors).")
    Path model;

    @Option(names = "--tokens", paramLabel = "1,2,3", description = "One batch row of token ids (repeatable).")
    List<String> tokens;

    @Option(names = "--text", paramLabel = "TEXT", description = "One batch row of text through the model's tokenizer (repeatable).")
    List<String> text;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Output file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if ((tokens == null || tokens.isEmpty()) == (text == null || text.isEmpty())) {
            throw new IllegalArgumentException("usage: give --tokens (one per row) or --text, not both and not neither");
        }
        if (text != null) {
            throw new UnsupportedOperationException("forward --text needs the model's tokenizer, which this version does not load yet; use --tokens");
        }
        int[][] rows = new int[tokens.size()][];
        for (int r = 0; r < rows.length; r++) rows[r] = parseIds(tokens.get(r), r);
        TokenBatch batch = TokenBatch.of(rows);
        Device device = common.device();
        try (Transformer m = Transformer.load(model, device, common.dtype(device)); Tensor y = m.forward(batch)) {
            ModelConfig c = m.config();
            boolean hidden = c.stack() == ModelConfig.Stack.ENCODER;
            int width = (int) y.dim(1), s = batch.maxLength();
            float[] packed = y.toFloatArray();
            float[] padded = new float[batch.rows() * s * width];
            for (int r = 0; r < batch.rows(); r++) {
                System.arraycopy(packed, batch.offset(r) * width, padded, r * s * width, batch.length(r) * width);
            }
            new SafeTensorsWriter().addF32(hidden ? "hidden" : "logits", new long[] {batch.rows(), s, width}, padded).write(out);
        }
        return 0;
    }

    static int[] parseIds(String s, int row) {
        String[] parts = s.split(",");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("usage: --tokens row " + row + ": '" + parts[i].trim() + "' is not a token id");
            }
        }
        return ids;
    }
}
