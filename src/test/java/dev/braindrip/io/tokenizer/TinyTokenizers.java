package dev.braindrip.io.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Small tokenizer.json files written by hand for the tests, in the shapes real models ship:
 * <ul>
 *   <li>{@link #gpt2}: byte-level BPE as GPT-2 (ByteLevel pre-tokenizer, post-processor and decoder),
 *       ids 0..255 are the 256 byte symbols (id = byte value), merges building "Ġthe" and "hello";
 *   <li>{@link #llama3}: the same with Llama 3's TemplateProcessing post-processor adding
 *       {@code <|begin_of_text|>};
 *   <li>{@link #llama2}: SentencePiece-style BPE as Llama 2 ships it (Prepend+Replace normalizer,
 *       Replace/ByteFallback/Fuse/Strip decoder, byte_fallback with the 256 {@code <0xXX>} tokens,
 *       {@code <s>} added by the post-processor);
 *   <li>{@link #metaspace}: the same vocabulary with the Metaspace pre-tokenizer (prepend_scheme
 *       "first") and a ByteFallback+Metaspace decoder, as newer SentencePiece conversions have it.
 * </ul>
 */
final class TinyTokenizers {
    static final ObjectMapper MAPPER = new ObjectMapper();

    // gpt2 / llama3 ids
    static final int G_T = 256;        // "Ġt"
    static final int G_HE = 257;       // "he"
    static final int G_THE = 258;      // "Ġthe"
    static final int G_LL = 259;       // "ll"
    static final int G_HELL = 260;     // "hell"
    static final int G_HELLO = 261;    // "hello"
    static final int G_EOT = 262;      // <|endoftext|>
    static final int G_IM_START = 263; // <|im_start|>
    static final int G_IM_END = 264;   // <|im_end|>
    static final int G_BOT = 265;      // <|begin_of_text|> (llama3 only)

    // llama2 / metaspace ids
    static final int S_UNK = 0;
    static final int S_BOS = 1;
    static final int S_EOS = 2;
    static final int S_BYTE0 = 3;      // <0x00>; byte b is 3 + b
    static final int S_SPACE = 259;    // "▁"
    static final int S_H = 260;
    static final int S_E = 261;
    static final int S_L = 262;
    static final int S_O = 263;
    static final int S_W = 264;
    static final int S_R = 265;
    static final int S_D = 266;
    static final int S_SP_H = 267;     // "▁h"
    static final int S_LL = 268;
    static final int S_SP_HE = 269;
    static final int S_SP_HELL = 270;
    static final int S_SP_HELLO = 271; // "▁hello"
    static final int S_SP_W = 272;
    static final int S_OR = 273;
    static final int S_SP_WOR = 274;
    static final int S_SP_WORL = 275;
    static final int S_SP_WORLD = 276; // "▁world"
    static final int S_E_ACUTE = 277;  // "é"
    static final int S_IM_START = 278; // <|im_start|>
    static final int S_IM_END = 279;   // <|im_end|>
    static final int S_THINK = 280;    // <think>, added but not special

    private TinyTokenizers() {}

    /** GPT-2's bytes_to_unicode: the printable symbol standing for byte {@code b}. */
    static String byteSymbol(int b) {
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return String.valueOf((char) b);
        int n = 0;
        for (int x = 0; x < b; x++) {
            if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
        }
        return String.valueOf((char) (256 + n));
    }

    static ObjectNode gpt2() {
        ObjectNode root = base();
        ArrayNode added = root.putArray("added_tokens");
        addedToken(added, G_EOT, "<|endoftext|>", true);
        addedToken(added, G_IM_START, "<|im_start|>", true);
        addedToken(added, G_IM_END, "<|im_end|>", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(false));
        root.set("post_processor", byteLevel(true).put("trim_offsets", false));
        root.set("decoder", byteLevel(true));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(byteSymbol(b), b);
        String[][] merges = {{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}};
        int id = 256;
        for (String[] m : merges) vocab.put(m[0] + m[1], id++);
        root.set("model", bpe(vocab, merges, null, false));
        return root;
    }

    static ObjectNode llama3() {
        ObjectNode root = gpt2();
        addedToken((ArrayNode) root.get("added_tokens"), G_BOT, "<|begin_of_text|>", true);
        root.set("post_processor", template("<|begin_of_text|>", G_BOT));
        return root;
    }

    static ObjectNode llama2() {
        ObjectNode root = sentencePieceBase();
        ObjectNode norm = MAPPER.createObjectNode().put("type", "Sequence");
        ArrayNode ns = norm.putArray("normalizers");
        ns.addObject().put("type", "Prepend").put("prepend", "▁");
        ns.addObject().put("type", "Replace").<ObjectNode>set("pattern", MAPPER.createObjectNode().put("String", " "))
                .put("content", "▁");
        root.set("normalizer", norm);
        root.putNull("pre_tokenizer");
        ObjectNode dec = MAPPER.createObjectNode().put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ds.addObject().put("type", "Replace").<ObjectNode>set("pattern", MAPPER.createObjectNode().put("String", "▁"))
                .put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        root.set("decoder", dec);
        return root;
    }

    static ObjectNode metaspace() {
        ObjectNode root = sentencePieceBase();
        root.putNull("normalizer");
        root.set("pre_tokenizer", MAPPER.createObjectNode().put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", "first").put("split", false));
        ObjectNode dec = MAPPER.createObjectNode().put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Metaspace").put("replacement", "▁").put("prepend_scheme", "first").put("split", false);
        root.set("decoder", dec);
        return root;
    }

    private static ObjectNode sentencePieceBase() {
        ObjectNode root = base();
        ArrayNode added = root.putArray("added_tokens");
        addedToken(added, S_UNK, "<unk>", true);
        addedToken(added, S_BOS, "<s>", true);
        addedToken(added, S_EOS, "</s>", true);
        addedToken(added, S_IM_START, "<|im_start|>", true);
        addedToken(added, S_IM_END, "<|im_end|>", true);
        addedToken(added, S_THINK, "<think>", false);
        root.set("post_processor", template("<s>", S_BOS));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", S_UNK);
        vocab.put("<s>", S_BOS);
        vocab.put("</s>", S_EOS);
        for (int b = 0; b < 256; b++) vocab.put(String.format("<0x%02X>", b), S_BYTE0 + b);
        String[] chars = {"▁", "h", "e", "l", "o", "w", "r", "d"};
        int id = S_SPACE;
        for (String c : chars) vocab.put(c, id++);
        String[][] merges = {{"▁", "h"}, {"l", "l"}, {"▁h", "e"}, {"▁he", "ll"}, {"▁hell", "o"},
            {"▁", "w"}, {"o", "r"}, {"▁w", "or"}, {"▁wor", "l"}, {"▁worl", "d"}};
        for (String[] m : merges) vocab.put(m[0] + m[1], id++);
        vocab.put("é", id);
        root.set("model", bpe(vocab, merges, "<unk>", true));
        return root;
    }

    private static ObjectNode base() {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        return root;
    }

    private static ObjectNode byteLevel(boolean addPrefixSpace) {
        return MAPPER.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", true).put("use_regex", true);
    }

    static void addedToken(ArrayNode added, int id, String content, boolean special) {
        added.addObject().put("id", id).put("content", content).put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", false).put("special", special);
    }

    private static ObjectNode template(String bos, int bosId) {
        ObjectNode p = MAPPER.createObjectNode().put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = p.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode st = p.putObject("special_tokens").putObject(bos);
        st.put("id", bos);
        st.putArray("ids").add(bosId);
        st.putArray("tokens").add(bos);
        return p;
    }

    private static ObjectNode bpe(Map<String, Integer> vocab, String[][] merges, String unk, boolean byteFallback) {
        ObjectNode m = MAPPER.createObjectNode().put("type", "BPE");
        m.putNull("dropout");
        if (unk == null) m.putNull("unk_token");
        else m.put("unk_token", unk);
        if (byteFallback) {
            m.putNull("continuing_subword_prefix");
            m.putNull("end_of_word_suffix");
        } else {
            m.put("continuing_subword_prefix", "");
            m.put("end_of_word_suffix", "");
        }
        m.put("fuse_unk", byteFallback).put("byte_fallback", byteFallback).put("ignore_merges", false);
        ObjectNode v = m.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode ms = m.putArray("merges");
        for (String[] pair : merges) ms.add(pair[0] + " " + pair[1]);
        return m;
    }

    /** A model directory holding {@code tokenizer} as tokenizer.json and the given other files (name -> JSON text). */
    static Path dir(Path parent, String name, ObjectNode tokenizer, Map<String, String> files) {
        try {
            Path d = Files.createDirectories(parent.resolve(name));
            if (tokenizer != null) Files.writeString(d.resolve("tokenizer.json"), MAPPER.writeValueAsString(tokenizer));
            for (Map.Entry<String, String> e : files.entrySet()) Files.writeString(d.resolve(e.getKey()), e.getValue());
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
