package dev.braindrip.io.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * A Hugging Face tokenizer: {@code tokenizer.json} run by the Hugging Face tokenizers library itself
 * (the Rust crate, through DJL's binding, see {@link NativeTokenizers}), so byte-level BPE (GPT-2,
 * Llama 3, Qwen), SentencePiece-style BPE (Llama 2, Mistral, Gemma: Metaspace or Prepend+Replace
 * normalizers, byte fallback), WordPiece and Unigram encode and decode exactly as Python's
 * {@code tokenizers} does. On top, what transformers' fast tokenizer does on load is repeated from
 * {@code tokenizer_config.json} (and {@code special_tokens_map.json}):
 * <ul>
 *   <li>special tokens it names that tokenizer.json lacks are added as special tokens;
 *   <li>{@code add_bos_token} / {@code add_eos_token}, when given (or implied by a Llama-family
 *       {@code tokenizer_class}), rebuild the post-processor as {@code LlamaTokenizerFast} does, so
 *       {@code add_bos_token: false} means {@code encode(text, true)} adds no BOS;
 *   <li>{@code clean_up_tokenization_spaces: true} cleans decoded text (also incrementally);
 *   <li>the chat template ({@code chat_template}, a string or the "default" of a named list; else
 *       chat_template.jinja) renders through {@link ChatTemplate}.
 * </ul>
 * The BOS id is that of {@code bos_token}; the EOS ids are those of {@code eos_token}, of
 * generation_config.json's {@code eos_token_id} and of config.json's (given as {@link TokenizerHints}).
 */
public final class HfTokenizer implements Tokenizer {
    /** tokenizer_class values whose transformers class rebuilds the post-processor on load, with its defaults. */
    private static final Map<String, boolean[]> LLAMA_FAMILY = Map.of(
            "LlamaTokenizer", new boolean[] {true, false}, "LlamaTokenizerFast", new boolean[] {true, false},
            "CodeLlamaTokenizer", new boolean[] {true, false}, "CodeLlamaTokenizerFast", new boolean[] {true, false},
            "GemmaTokenizer", new boolean[] {true, false}, "GemmaTokenizerFast", new boolean[] {true, false},
            "CohereTokenizerFast", new boolean[] {true, false}, "GPTNeoXTokenizerFast", new boolean[] {false, false});

    private final HuggingFaceTokenizer hf;
    private final String[] tokens;
    private final boolean[] special;
    private final int bosId;
    private final SortedSet<Integer> eosIds;
    private final boolean cleanUp;
    private final boolean byteFallback;   // the decoder has a ByteFallback step
    private final ChatTemplate chatTemplate;
    private final String noTemplateReason;
    private final long modelMaxLength;
    private final Path dir;

    private HfTokenizer(Path dir, HuggingFaceTokenizer hf, String[] tokens, boolean[] special, int bosId,
            SortedSet<Integer> eosIds, boolean cleanUp, boolean byteFallback, ChatTemplate chatTemplate,
            String noTemplateReason, long modelMaxLength) {
        this.dir = dir;
        this.hf = hf;
        this.tokens = tokens;
        this.special = special;
        this.bosId = bosId;
        this.eosIds = eosIds;
        this.cleanUp = cleanUp;
        this.byteFallback = byteFallback;
        this.chatTemplate = chatTemplate;
        this.noTemplateReason = noTemplateReason;
        this.modelMaxLength = modelMaxLength;
    }

    /** The tokenizer of a model directory, with config.json's BOS / EOS ids read from it (if present). */
    public static HfTokenizer load(Path modelDir) throws IOException {
        return load(modelDir, TokenizerHints.fromConfigJson(modelDir));
    }

    /**
     * The tokenizer of a model directory (tokenizer.json required; tokenizer_config.json,
     * special_tokens_map.json, generation_config.json, chat_template.jinja used when present).
     *
     * @param hints config.json's ids; its EOS ids join the tokenizer's
     * @throws NoSuchFileException when there is no tokenizer.json
     * @throws TokenizerFormatException when a file is malformed (the message names it)
     */
    public static HfTokenizer load(Path modelDir, TokenizerHints hints) throws IOException {
        if (!Files.isDirectory(modelDir)) throw new NoSuchFileException(modelDir.toString(), null, "model directory not found");
        TokenizerJson json = TokenizerJson.read(modelDir.resolve("tokenizer.json"));
        TokenizerConfig config = TokenizerConfig.read(modelDir);
        json.addTokens(tokensToAdd(json, config));
        String bos = config.specialTokens.containsKey("bos_token") ? config.specialTokens.get("bos_token").content() : null;
        String eos = config.specialTokens.containsKey("eos_token") ? config.specialTokens.get("eos_token").content() : null;
        rebuildPostProcessor(json, config, bos, eos, modelDir.resolve("tokenizer_config.json"));
        json.dropTruncationAndPadding();

        String[] tokens = json.idToToken();
        boolean[] special = json.specialIds(tokens.length);
        int bosId = bos == null ? -1 : json.tokenToId(bos);
        SortedSet<Integer> eosIds = new TreeSet<>();
        if (eos != null) eosIds.add(json.tokenToId(eos));
        Path gen = modelDir.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) eosIds.addAll(TokenizerHints.ids(TokenizerHints.readObject(gen), "eos_token_id", gen));
        eosIds.addAll(hints.eosIds());

        ChatTemplate template = null;
        String noTemplate = null;
        if (config.chatTemplate != null) {
            template = new ChatTemplate(config.chatTemplate, config.templateVariables());
        } else if (!config.namedTemplates.isEmpty()) {
            noTemplate = "tokenizer_config.json has chat templates " + config.namedTemplates.keySet() + " but none named 'default'";
        } else {
            noTemplate = "the model has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja)";
        }
        HuggingFaceTokenizer hf;   // last: nothing after it can fail and leak it
        try {
            hf = NativeTokenizers.fromJson(json.json());
        } catch (RuntimeException e) {
            throw new TokenizerFormatException(json.file().toString(),
                    "the Hugging Face tokenizers library rejects it: " + e.getMessage(), e);
        }
        return new HfTokenizer(modelDir, hf, tokens, special, bosId, Collections.unmodifiableSortedSet(eosIds),
                config.cleanUpTokenizationSpaces, json.decoderHas("ByteFallback"), template, noTemplate,
                config.modelMaxLength);
    }

    /** transformers' PreTrainedTokenizerFast.__init__: added_tokens_decoder entries, then the special tokens. */
    private static List<TokenizerConfig.TokenSpec> tokensToAdd(TokenizerJson json, TokenizerConfig config) {
        Set<String> specials = new HashSet<>();
        config.specialTokens.values().forEach(t -> specials.add(t.content()));
        config.additionalSpecialTokens.forEach(t -> specials.add(t.content()));
        List<TokenizerConfig.TokenSpec> out = new ArrayList<>();
        Set<String> queued = new HashSet<>();
        for (TokenizerConfig.TokenSpec t : config.addedTokensDecoder.values()) {
            boolean isSpecial = t.special() || specials.contains(t.content());
            out.add(new TokenizerConfig.TokenSpec(t.content(), t.singleWord(), t.lstrip(), t.rstrip(), t.normalized(), isSpecial));
            queued.add(t.content());
        }
        List<TokenizerConfig.TokenSpec> all = new ArrayList<>(config.specialTokens.values());
        all.addAll(config.additionalSpecialTokens);
        for (TokenizerConfig.TokenSpec t : all) {
            if (json.hasAddedToken(t.content()) || !queued.add(t.content())) continue;
            out.add(new TokenizerConfig.TokenSpec(t.content(), t.singleWord(), t.lstrip(), t.rstrip(), t.normalized(), true));
        }
        return out;
    }

    private static void rebuildPostProcessor(TokenizerJson json, TokenizerConfig config, String bos, String eos,
            Path configFile) throws TokenizerFormatException {
        boolean[] family = config.tokenizerClass == null ? null : LLAMA_FAMILY.get(config.tokenizerClass);
        if (config.addBosToken == null && config.addEosToken == null && family == null) return;
        boolean addBos = config.addBosToken != null ? config.addBosToken : family == null || family[0];
        boolean addEos = config.addEosToken != null ? config.addEosToken : family != null && family[1];
        if (addBos && bos == null) throw new TokenizerFormatException(configFile.toString(), "add_bos_token is true but there is no bos_token");
        if (addEos && eos == null) throw new TokenizerFormatException(configFile.toString(), "add_eos_token is true but there is no eos_token");
        json.setBosEosTemplate(bos, addBos ? json.tokenToId(bos) : -1, addBos, eos, addEos ? json.tokenToId(eos) : -1, addEos);
    }

    /**
     * {@inheritDoc}
     *
     * <p>A lone UTF-16 surrogate (not text; Python could not even encode it) is taken as U+FFFD:
     * passed on as it is, the JNI string conversion would garble every other non-BMP character of
     * the text.
     */
    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        long[] ids = hf.encode(Utf8.withoutLoneSurrogates(text), addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
        return out;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        String raw = decodeRaw(ids, 0, ids.length, skipSpecialTokens);
        return cleanUp ? SpaceCleanup.clean(raw) : raw;
    }

    /** The library's decode of {@code ids[from, to)}, without transformers' clean-up. */
    private String decodeRaw(int[] ids, int from, int to, boolean skipSpecialTokens) {
        long[] longs = new long[to - from];
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= tokens.length || tokens[id] == null) {
                throw new IllegalArgumentException("token id " + id + " is not in the vocabulary"
                        + (id < 0 || id >= tokens.length ? " (ids are 0.." + (tokens.length - 1) + ")" : " (no token has it)"));
            }
            longs[i - from] = id;
        }
        return hf.decode(longs, skipSpecialTokens);
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public Set<Integer> eosIds() {
        return eosIds;
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    /** The token string of an id (as in tokenizer.json, e.g. "Ġthe" or "▁the"), or null when no token has it. */
    public String idToToken(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** tokenizer_config.json's model_max_length, or Long.MAX_VALUE when it sets none. */
    public long modelMaxLength() {
        return modelMaxLength;
    }

    @Override
    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /** The chat template; throws UnsupportedOperationException (saying why) when there is none. */
    public ChatTemplate chatTemplate() {
        if (chatTemplate == null) throw new UnsupportedOperationException(dir + ": " + noTemplateReason);
        return chatTemplate;
    }

    @Override
    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        return chatTemplate().render(messages, addGenerationPrompt);
    }

    /** As {@link #applyChatTemplate(List, boolean)} with more template variables ({@code tools}, {@code enable_thinking}, ...). */
    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt,
            Map<String, ?> variables) {
        return chatTemplate().render(messages, addGenerationPrompt, variables);
    }

    @Override
    public IncrementalDecoder incremental(boolean skipSpecialTokens) {
        return new PrefixDecoder((ids, from, to) -> decodeRaw(ids, from, to, skipSpecialTokens), cleanUp,
                id -> byteFallback && isByteToken(id), id -> skipSpecialTokens && isSpecial(id));
    }

    /** A byte-fallback token: {@code <0xXX>}, as the ByteFallback decoder recognizes it. */
    private boolean isByteToken(int id) {
        String t = id >= 0 && id < tokens.length ? tokens[id] : null;
        return t != null && t.length() == 6 && t.startsWith("<0x") && t.charAt(5) == '>'
                && Character.digit(t.charAt(3), 16) >= 0 && Character.digit(t.charAt(4), 16) >= 0;
    }

    @Override
    public void close() {
        hf.close();
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + dir + ", vocabSize=" + tokens.length + ", bos=" + bosId + ", eos=" + eosIds + "]";
    }
}
