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
                + "for causal LMs or 'hidden' (B, S, H) for encoders; positions past a row's length hold zeros. Encoder-decoder models "
                + "(T5) take one --decoder-tokens row per source row and write the decoder's 'logits' (B, S_dec, V).")
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

    @Option(names = "--decoder-tokens", paramLabel = "0,5,6", description = "Encoder-decoder models: the decoder's input ids of one row "
            + "(repeatable, one per --tokens / --text row, usually starting with the decoder start token); the output is the decoder's logits.")
    List<String> decoderTokens;

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
            if (text == null) for (int r = 0; r < rows.length; r++) rows[r] = parseIds(tokens.get(r), r, "--tokens");
            boolean seq2seq = m.config().isEncoderDecoder();
            boolean hasDecoder = decoderTokens != null && !decoderTokens.isEmpty();
            if (seq2seq != hasDecoder) {
                throw new IllegalArgumentException(seq2seq ? "usage: " + model + " is an encoder-decoder (" + m.config().architecture()
                        + "): give one --decoder-tokens row per source row" : "usage: --decoder-tokens is for encoder-decoder models; " + model
                        + " is " + m.config().architecture());
            }
            if (seq2seq) {
                if (decoderTokens.size() != rows.length) {
                    throw new IllegalArgumentException("usage: " + rows.length + " source rows but " + decoderTokens.size()
                            + " --decoder-tokens rows (one each)");
                }
                int[][] dec = new int[rows.length][];
                for (int r = 0; r < dec.length; r++) dec[r] = parseIds(decoderTokens.get(r), r, "--decoder-tokens");
                TokenBatch decoder = TokenBatch.of(dec);
                try (Tensor y = m.forward(TokenBatch.of(rows), decoder)) {
                    write(y, decoder, "logits");
                }
                return 0;
            }
            TokenBatch batch = TokenBatch.of(rows);
            try (Tensor y = m.forward(batch)) {
                write(y, batch, m.config().stack() == ModelConfig.Stack.ENCODER ? "hidden" : "logits");
            }
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

    /** Packed rows y (T, W) of {@code batch} as (B, S, W) F32, zeros past each row's length. */
    private void write(Tensor y, TokenBatch batch, String name) throws java.io.IOException {
        int width = (int) y.dim(1), s = batch.maxLength();
        float[] packed = y.toFloatArray();
        float[] padded = new float[batch.rows() * s * width];
        for (int r = 0; r < batch.rows(); r++) {
            System.arraycopy(packed, batch.offset(r) * width, padded, r * s * width, batch.length(r) * width);
        }
        new SafeTensorsWriter().addF32(name, new long[] {batch.rows(), s, width}, padded).write(out);
    }

    static int[] parseIds(String s, int row) {
        return parseIds(s, row, "--tokens");
    }

    static int[] parseIds(String s, int row, String option) {
        String[] parts = s.split(",");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("usage: " + option + " row " + row + ": '" + parts[i].trim() + "' is not a token id");
            }
        }
        return ids;
    }
}
