package dev.braindrip.generate;

import dev.braindrip.io.tokenizer.ByteTokenizer;
import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.io.tokenizer.TokenizerHints;
import dev.braindrip.io.tokenizer.Tokenizers;
import dev.braindrip.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Which text a model reads (CLI.md, "Models on the command line"): the tokenizer of its
 * tokenizer.json when the directory has one; else, when the vocabulary holds the 256 byte values,
 * the byte-level mapping (byte b = id b + offset, offset 4 for Hugging Face's BLT and 0 otherwise;
 * the BOS of config.json first when text is encoded with special tokens); else none, and the
 * model takes token ids only. The hints come from the parsed {@link ModelConfig}, so what the model
 * layer read from config.json is what the tokenizer sees.
 */
public final class ModelText {
    private ModelText() {}

    /** The model's tokenizer (the caller closes it), or empty when the model takes ids only. */
    public static Optional<Tokenizer> tokenizer(Path dir, ModelConfig config) throws IOException {
        if (!isByteLevel(config) && !java.nio.file.Files.isRegularFile(dir.resolve("tokenizer.json"))) return Optional.empty();
        return Tokenizers.forModel(dir, config.vocabSize(), hints(config));
    }

    /** What config.json says about the model's ids: BOS, EOS and the id of byte 0. */
    public static TokenizerHints hints(ModelConfig config) {
        return new TokenizerHints(config.bosTokenId(), config.eosTokenIds(), byteOffset(config));
    }

    /**
     * Whether a model without a tokenizer file reads bytes: its vocabulary holds the 256 byte
     * values. Never for an encoder-decoder (T5: ids 0-2 are pad, EOS and unk of a SentencePiece
     * vocabulary), which reads text only through its tokenizer.json.
     */
    public static boolean isByteLevel(ModelConfig config) {
        return !config.isEncoderDecoder() && config.vocabSize() >= byteOffset(config) + 256;
    }

    /** The byte-level mapping of {@code config} (its BOS and EOS ids from config.json), whether or not the directory has a tokenizer. */
    public static Tokenizer byteLevel(ModelConfig config) {
        return new ByteTokenizer(config.vocabSize(), byteOffset(config), config.bosTokenId(), new TreeSet<>(config.eosTokenIds()));
    }

    private static int byteOffset(ModelConfig config) {
        return "blt".equals(config.architecture()) ? TokenizerHints.BLT_BYTE_OFFSET : 0;
    }
}
