package dev.braindrip.io.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** The tokenizer of a model directory, as CLI.md's "Models on the command line" describes. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * The tokenizer of {@code modelDir}: an {@link HfTokenizer} when it has tokenizer.json; else a
     * {@link ByteTokenizer} when the model's vocabulary holds the 256 byte values (from
     * {@code hints.byteOffset()}), with the hints' BOS and EOS ids; else empty (the model takes token
     * ids only).
     *
     * @param vocabSize the model's vocabulary size (its embedding rows)
     * @param hints config.json's token ids (the model layer's ModelConfig, or {@link TokenizerHints#fromConfigJson})
     */
    public static Optional<Tokenizer> forModel(Path modelDir, int vocabSize, TokenizerHints hints) throws IOException {
        if (Files.isRegularFile(modelDir.resolve("tokenizer.json"))) return Optional.of(HfTokenizer.load(modelDir, hints));
        if (vocabSize < hints.byteOffset() + 256) return Optional.empty();
        Set<Integer> eos = new TreeSet<>(hints.eosIds());
        return Optional.of(new ByteTokenizer(vocabSize, hints.byteOffset(), hints.bosId(), eos));
    }

    /** As {@link #forModel(Path, int, TokenizerHints)} with the hints read from modelDir/config.json. */
    public static Optional<Tokenizer> forModel(Path modelDir, int vocabSize) throws IOException {
        return forModel(modelDir, vocabSize, TokenizerHints.fromConfigJson(modelDir));
    }
}
