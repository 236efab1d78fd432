package dev.braindrip.cli;

import dev.braindrip.generate.Generator;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.io.tokenizer.Tokenizer;
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

    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory (config.json + *.safetensors), or 'demo'.")
    String model;

    @Option(names = "--tokens", paramLabel = "1,2,3", description = "One batch row of token ids (repeatable).")
    List<String> tokens;

    @Option(names = "--text", paramLabel = "TEXT", description = "One batch row of text through the model's tokenizer (repeatable).")
    List<String> text;

    @Option(names = "--add-special-tokens", description = "With --text: add the tokenizer's special tokens (BOS...) as Hugging Face does.")
    boolean addSpecialTokens;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Output file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if ((tokens == null || tokens.isEmpty()) == (text == null || text.isEmpty())) {
            throw new IllegalArgumentException("usage: give --tokens (one per row) or --text, not both and not neither");
        }
        Device device = common.device();
        try (Transformer m = ModelArg.load(model, device, common.dtype(device))) {
            int[][] rows = text != null ? encode(m) : new int[tokens.size()][];
            if (text == null) for (int r = 0; r < rows.length; r++) rows[r] = parseIds(tokens.get(r), r);
            write(m, TokenBatch.of(rows));
        }
        return 0;
    }

    /** The --text rows through the model's tokenizer (or its bytes), special tokens only with --add-special-tokens. */
    private int[][] encode(Transformer m) {
        try (Tokenizer tok = Generator.tokenizerOf(m)) {
            if (tok == null) throw new IllegalArgumentException("usage: this model has no tokenizer.json and is not byte-level; give --tokens");
            int[][] rows = new int[text.size()][];
            for (int r = 0; r < rows.length; r++) {
                rows[r] = tok.encode(text.get(r), addSpecialTokens);
                if (rows[r].length == 0) throw new IllegalArgumentException("usage: --text row " + r + " encodes to no tokens");
            }
            return rows;
        }
    }

    private void write(Transformer m, TokenBatch batch) throws java.io.IOException {
        try (Tensor y = m.forward(batch)) {
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
