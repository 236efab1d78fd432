package dev.braindrip.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.generate.ModelText;
import dev.braindrip.generate.ScoreResult;
import dev.braindrip.generate.Scorer;
import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * braindrip score (CLI.md): mean NLL, perplexity and bits per byte of a text, in strided windows.
 * With --tokens the ids are scored as given and bytes / bits per byte are unknown (null in --json).
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Next-token prediction over a text: mean negative log-likelihood (nats) of every token after the first, "
                + "perplexity and bits per byte, in windows of --window tokens advancing by --stride (Hugging Face's strided method).",
        footer = {"", "Text goes through tokenizer.json with its special tokens (a Llama gets its BOS), or as UTF-8 bytes after config.json's BOS",
                "for a byte-level model. With --tokens the ids are scored as given; bytes and bits_per_byte are then unknown (null in --json).",
                "--json FILE: {\"tokens\", \"bytes\", \"mean_nll\", \"perplexity\", \"bits_per_byte\", \"window\", \"stride\"};",
                "tokens counts every id (the first is context only: tokens - 1 are scored).",
                "Encoder-decoder models (T5): --source FILE (or --source-tokens) and --text FILE (or --tokens): the target is scored",
                "given the source, every target id, in one forward; tokens then counts the decoder's ids (start token + target)."})
public final class ScoreCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory (or demo).")
    String model;

    @Option(names = "--text", paramLabel = "FILE", description = "UTF-8 text to score (through the model's tokenizer with its special tokens, or as bytes).")
    Path text;

    @Option(names = "--tokens", paramLabel = "1,2,3", description = "Token ids to score instead of --text.")
    String tokens;

    @Option(names = "--source", paramLabel = "FILE", description = "Encoder-decoder models: the source (UTF-8 text) the --text target is scored given.")
    Path source;

    @Option(names = "--source-tokens", paramLabel = "1,2,3", description = "Encoder-decoder models: source ids instead of --source.")
    String sourceTokens;

    @Option(names = "--window", paramLabel = "N", description = "Tokens per window (default: the model's context, at most "
            + Scorer.MAX_DEFAULT_WINDOW + ").")
    Integer window;

    @Option(names = "--stride", paramLabel = "S", description = "Tokens each window advances by, below the window (default: half the window).")
    Integer stride;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the result as one JSON object.")
    Path json;

    @Override
    public Integer call() throws Exception {
        if ((text == null) == (tokens == null)) throw new IllegalArgumentException("usage: give --text FILE or --tokens 1,2,3 (one of them)");
        int[] given = tokens == null ? null : parseIds(tokens);
        String content = text == null ? null : readText(text);
        if (source != null && sourceTokens != null) throw new IllegalArgumentException("usage: give --source FILE or --source-tokens 1,2,3, not both");
        boolean seq2seq = source != null || sourceTokens != null;
        if (seq2seq && (window != null || stride != null)) {
            throw new IllegalArgumentException("usage: --window and --stride are for a text alone; a target given a source is scored whole");
        }
        String sourceText = source == null ? null : readText(source);
        Device device = common.device();
        ScoreResult r;
        try (Transformer m = ModelArg.load(model, device, common.dtype(device))) {
            if (seq2seq != m.config().isEncoderDecoder()) {
                throw new IllegalArgumentException(seq2seq ? "usage: --source and --source-tokens are for encoder-decoder models; " + model + " is "
                        + m.config().architecture() : "usage: " + model + " is an encoder-decoder (" + m.config().architecture()
                        + "): give the source with --source FILE or --source-tokens, and the target with --text or --tokens");
            }
            if (seq2seq) {
                r = scoreTarget(m, sourceText, sourceTokens == null ? null : parseIds(sourceTokens), content, given);
                print(r);
                if (json != null) writeJson(r);
                return 0;
            }
            Scorer scorer = scorer(m);
            if (given != null) {
                r = scorer.score(given);
            } else {
                Optional<Tokenizer> tok = tokenizer(m);
                if (tok.isEmpty()) {
                    throw new IllegalArgumentException("usage: " + model + " has no tokenizer.json and its vocabulary (" + m.config().vocabSize()
                            + ") does not hold the 256 byte values; score ids with --tokens");
                }
                int[] ids;
                try (Tokenizer t = tok.get()) {
                    ids = t.encode(content, true);
                }
                r = scorer.score(ids, content.getBytes(StandardCharsets.UTF_8).length);
            }
        }
        print(r);
        if (json != null) writeJson(r);
        return 0;
    }

    /** A target (text or ids) given a source (text or ids) of an encoder-decoder, through its tokenizer with special tokens. */
    private ScoreResult scoreTarget(Transformer m, String srcText, int[] srcIds, String targetText, int[] targetIds) throws IOException {
        if (srcText == null && targetText == null) return Scorer.scoreTarget(m, srcIds, targetIds, -1);
        Optional<Tokenizer> tok = tokenizer(m);
        if (tok.isEmpty()) {
            throw new IllegalArgumentException("usage: " + model + " has no tokenizer.json and its vocabulary (" + m.config().vocabSize()
                    + ") does not hold the 256 byte values; give ids with --source-tokens and --tokens");
        }
        try (Tokenizer t = tok.get()) {
            int[] s = srcText != null ? t.encode(srcText, true) : srcIds;
            int[] tg = targetText != null ? t.encode(targetText, true) : targetIds;
            return Scorer.scoreTarget(m, s, tg, targetText == null ? -1 : targetText.getBytes(StandardCharsets.UTF_8).length);
        }
    }

    private static Optional<Tokenizer> tokenizer(Transformer m) throws IOException {
        return m.directory().isPresent() ? ModelText.tokenizer(m.directory().get(), m.config())
                : ModelText.isByteLevel(m.config()) ? Optional.of(ModelText.byteLevel(m.config())) : Optional.empty();
    }

    private Scorer scorer(Transformer m) {
        Scorer.Builder b = Scorer.builder(m);
        if (window != null) b.window(window);
        if (stride != null) b.stride(stride);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            boolean option = msg != null && (msg.startsWith("window (") || msg.startsWith("stride ("));
            throw option ? new IllegalArgumentException("usage: --" + msg, e) : e;
        }
    }

    private static int[] parseIds(String s) {
        String[] parts = s.split(",");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("usage: --tokens: '" + parts[i].trim() + "' is not a token id");
            }
        }
        return ids;
    }

    private static String readText(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "text file not found");
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not valid UTF-8");
        }
    }

    private static void print(ScoreResult r) {
        System.out.printf(Locale.ROOT, "tokens:        %d (%d scored)%n", r.tokens(), r.scoredTokens());
        System.out.println("bytes:         " + (r.hasBytes() ? String.valueOf(r.bytes()) : "-"));
        System.out.printf(Locale.ROOT, "mean_nll:      %.6f nats%n", r.meanNll());
        System.out.printf(Locale.ROOT, "perplexity:    %.4f%n", r.perplexity());
        System.out.println("bits_per_byte: " + (r.hasBytes() ? String.format(Locale.ROOT, "%.6f", r.bitsPerByte()) : "-"));
        System.out.println("window:        " + r.window());
        System.out.println("stride:        " + r.stride());
    }

    private void writeJson(ScoreResult r) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = mapper.createObjectNode();
        o.put("tokens", r.tokens());
        if (r.hasBytes()) o.put("bytes", r.bytes());
        else o.putNull("bytes");
        o.put("mean_nll", r.meanNll());
        o.put("perplexity", r.perplexity());
        if (r.hasBytes()) o.put("bits_per_byte", r.bitsPerByte());
        else o.putNull("bits_per_byte");
        o.put("window", r.window());
        o.put("stride", r.stride());
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        mapper.writeValue(json.toFile(), o);
    }
}
