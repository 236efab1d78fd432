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
                "tokens counts every id (the first is context only: tokens - 1 are scored)."})
public final class ScoreCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory (or demo).")
    String model;

    @Option(names = "--text", paramLabel = "FILE", description = "UTF-8 text to score (through the model's tokenizer with its special tokens, or as bytes).")
    Path text;

    @Option(names = "--tokens", paramLabel = "1,2,3", description = "Token ids to score instead of --text.")
    String tokens;

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
        Device device = common.device();
        ScoreResult r;
        try (Transformer m = ModelArg.load(model, device, common.dtype(device))) {
            Scorer scorer = scorer(m);
            if (given != null) {
                r = scorer.score(given);
            } else {
                Optional<Tokenizer> tok = m.directory().isPresent() ? ModelText.tokenizer(m.directory().get(), m.config())
                        : ModelText.isByteLevel(m.config()) ? Optional.of(ModelText.byteLevel(m.config())) : Optional.empty();
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
