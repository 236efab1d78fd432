package dev.braindrip.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.io.SafeTensorsDType;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.io.ShardedSafeTensors;
import dev.braindrip.io.TensorSource;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/** Reading a checkpoint's config without loading it, describing it (inspect), and writing random ones (init). */
public final class Checkpoints {
    private Checkpoints() {}

    /** config.json of a model directory, parsed; errors name the file. */
    public static HfConfig readConfig(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "model directory not found");
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) throw new NoSuchFileException(cfgFile.toString(), null, "no config.json in the model directory");
        try {
            JsonNode root = Json.MAPPER.readTree(Files.readString(cfgFile));
            return new HfConfig(root, cfgFile);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(cfgFile + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
    }

    /** The architecture of a parsed config; an unknown model_type names the file and lists the known ones. */
    public static Architecture architecture(HfConfig hf) {
        try {
            return Architectures.of(hf.modelType());
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    /** What `inspect` prints: one ordered map (also its --json form). */
    public static Map<String, Object> inspect(Path dir) throws IOException {
        HfConfig hf = readConfig(dir);
        Architecture arch = architecture(hf);
        ModelConfig c = arch.config(hf);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("path", dir.toAbsolutePath().normalize().toString());
        out.put("architecture", c.architecture());
        out.put("stack", c.stack().name().toLowerCase());
        Map<String, Long> dtypes = new TreeMap<>();
        long total = 0, expert = 0;
        try (TensorSource src = ShardedSafeTensors.open(dir)) {
            List<WeightRule> rules = arch.weights(c, new HashSet<>(src.names()));
            for (String n : src.names()) dtypes.merge(src.info(n).dtype().name(), src.info(n).numel(), Long::sum);
            for (WeightRule r : rules) {
                long n = numel(r.shape());
                total += n;
                if (r.name().contains(".experts.")) expert += n;
            }
        }
        long active = c.moe() == null ? total : total - expert + expert / c.moe().experts() * c.moe().topK();
        out.put("parameters", total);
        out.put("active_parameters", active);
        out.put("dtypes", dtypes);
        out.put("vocab_size", c.vocabSize());
        out.put("hidden", c.hidden());
        out.put("layers", c.layerCount());
        if (c.isEncoderDecoder()) out.put("decoder_layers", c.decoderLayers());
        out.put("heads", c.heads());
        out.put("kv_heads", c.kvHeads());
        out.put("head_dim", c.headDim());
        out.put("max_positions", c.maxPositions());
        out.put("layer_pattern", c.layers().stream().map(LayerSpec::describe).toList());
        out.put("features", features(c));
        out.put("kv_bytes_per_token", Map.of("f32", c.kvBytesPerToken(4), "bf16", c.kvBytesPerToken(2)));
        if (c.isByteLatent()) {
            List<WeightRule> rules = arch.weights(c, new HashSet<>());
            Map<String, Object> f = new LinkedHashMap<>();
            for (double l : new double[] {4.0, 4.4, 6.0}) f.put("mean_patch_" + l, flopsPerByte(c, rules, l, 1024));
            f.put("token_model_4.4_bytes_per_token", tokenModelFlopsPerByte(c, 4.4, 1024, 128256));
            f.put("note", "inference FLOPs per byte at 1024 bytes of context: the BLT at a mean patch length of 4, 4.4 and 6 bytes, and a "
                    + "token model of the global transformer's shape with a 128256-token vocabulary at 4.4 bytes per token (Llama 3's on English)");
            out.put("flops_per_byte", f);
        }
        out.put("config", Json.MAPPER.readTree(c.toJson()));
        return out;
    }

    /**
     * Inference FLOPs per byte of a Byte Latent Transformer at a mean patch length of {@code patch}
     * bytes and {@code context} bytes of context: 2 × the parameters each byte multiplies through
     * (patcher, local encoder and decoder layers, the decoder's cross q/o, the encoder's cross k/v
     * over its bytes, both heads), plus per patch / patch: the global layers, the projections, the
     * k slots' cross q/o in the encoder and k/v in every decoder cross layer; plus attention, 4 ×
     * width × the mean visible keys per layer (causal: context / 2; decoder cross: k slots).
     */
    public static double flopsPerByte(ModelConfig c, List<WeightRule> rules, double patch, int context) {
        LatentSpec l = c.latent();
        double perByte = 0, perPatch = 0;
        int k = l.crossAttnK();
        for (WeightRule r : rules) {
            String n = r.name();
            double p = numel(r.shape());
            if (n.contains("norm.")) continue; // norm weights scale, they are not multiplied through
            if (n.startsWith("patcher.layers.") || n.equals("patcher.head") || n.startsWith("enc.layers.") || n.startsWith("dec.layers.")
                    || n.equals("lm_head")) {
                perByte += p;
            } else if (n.startsWith("dec.cross.")) {
                if (n.contains(".q.") || n.contains(".o.")) perByte += p;
                else if (n.contains(".k.") || n.contains(".v.")) perPatch += k * p;
            } else if (n.startsWith("enc.cross.")) {
                int last = l.encoderCrossAll() ? l.encoder().layers() - 1 : 0;
                if (!n.startsWith("enc.cross." + last + ".")) continue; // only the last encoder cross-attention's result is used
                if (n.contains(".k.") || n.contains(".v.")) perByte += p;
                else if (n.contains(".q.") || n.contains(".o.")) perPatch += k * p;
            } else if (n.startsWith("global.layers.") || n.equals("global.token_proj.weight") || n.equals("enc.patch_proj.weight")
                    || n.equals("dec.patch_proj.weight")) {
                perPatch += p;
            }
        }
        double attn = 0;
        if (l.patching().needsPatcher()) attn += 4.0 * l.patcher().layers() * l.patcher().hidden() * context / 2.0;
        attn += 4.0 * (l.encoder().layers() * (double) l.encoder().hidden() + l.decoder().layers() * (double) l.decoder().hidden()) * context / 2.0;
        attn += 4.0 * (l.decoderCrossAll() ? l.decoder().layers() : 1) * (double) l.decoder().hidden() * k;
        double globalAttn = 4.0 * l.global().layers() * l.global().hidden() * (context / patch) / 2.0 + 4.0 * k * l.encoder().hidden() * patch;
        return 2 * perByte + attn + (2 * perPatch + globalAttn) / patch;
    }

    /** The same count for a token model of the global transformer's shape (embedding and a head of {@code vocab} tokens) at {@code bytesPerToken}. */
    public static double tokenModelFlopsPerByte(ModelConfig c, double bytesPerToken, int context, int vocab) {
        LatentSpec.Stage g = c.latent().global();
        double h = g.hidden(), hd = g.headDim();
        double layer = h * g.heads() * hd * 2 + h * g.kvHeads() * hd * 2 + 3 * h * g.intermediate();
        double perToken = 2 * (g.layers() * layer + vocab * h) + 4.0 * g.layers() * h * (context / bytesPerToken) / 2.0;
        return perToken / bytesPerToken;
    }

    static List<String> features(ModelConfig c) {
        List<String> f = new java.util.ArrayList<>();
        f.add(c.kvHeads() == c.heads() ? "MHA" : c.kvHeads() == 1 ? "MQA" : "GQA " + c.heads() + "/" + c.kvHeads());
        if (c.rope() != null) {
            RopeConfig r = c.rope();
            f.add("RoPE theta " + r.theta() + (r.scaling() == RopeConfig.Scaling.NONE ? "" : " " + r.scaling().name().toLowerCase() + " x" + r.factor())
                    + (r.rotaryDim() > 0 ? " partial " + r.rotaryDim() : ""));
        }
        if (c.isEncoderDecoder()) f.add("encoder-decoder " + c.layerCount() + "+" + c.decoderLayers() + " layers, cross-attention, decoder start id "
                + c.decoderStartTokenId());
        if (c.positions() == ModelConfig.Positions.LEARNED) f.add("learned positions");
        if (c.positions() == ModelConfig.Positions.RELATIVE) {
            f.add("relative position bias " + c.relBuckets() + " buckets, max distance " + c.relMaxDistance());
        }
        if (c.attentionScale() == 1.0) f.add("no attention score scaling");
        if (c.isByteLatent()) {
            LatentSpec l = c.latent();
            f.add("byte latent: patcher " + (l.patcher() == null ? "none" : l.patcher().hidden() + "x" + l.patcher().layers()) + ", encoder "
                    + l.encoder().hidden() + "x" + l.encoder().layers() + ", global " + l.global().hidden() + "x" + l.global().layers() + ", decoder "
                    + l.decoder().hidden() + "x" + l.decoder().layers() + ", " + l.crossAttnK() + " slots per patch");
            f.add(l.patching().name().toLowerCase() + " patching" + (l.patching().needsPatcher() ? " threshold " + l.threshold() : "")
                    + (l.maxPatchLength() > 0 ? ", max patch " + l.maxPatchLength() : ""));
            f.add("hash n-grams " + l.hashSizes() + " x " + l.hashFunctions() + " functions, " + l.hashVocab() + " rows each");
        }
        f.add(c.norm().name().toLowerCase().replace('_', '+') + " norm, " + c.normPlacement().name().toLowerCase());
        f.add((c.ffnGated() ? "gated FFN " : "FFN ") + c.activation().name().toLowerCase());
        if (c.moe() != null) f.add("MoE " + c.moe().experts() + " experts top-" + c.moe().topK() + (c.moe().sharedFfn() > 0 ? " + shared expert" : ""));
        if (c.qkNorm()) f.add("q/k norm");
        if (c.qkvBias()) f.add("qkv bias");
        if (c.attnSoftcap() > 0) f.add("attention softcap " + c.attnSoftcap());
        if (c.finalSoftcap() > 0) f.add("final softcap " + c.finalSoftcap());
        if (c.layers().stream().anyMatch(l -> l.attention() == LayerSpec.Attention.SLIDING)) f.add("sliding window");
        if (c.tieEmbeddings()) f.add("tied embeddings");
        if (c.embeddingScale() != 1) f.add("embedding scale " + c.embeddingScale());
        if (c.logitScale() != 1) f.add("logit scale " + c.logitScale());
        if (c.gluLimit() > 0) f.add("gate/up clamp " + c.gluLimit());
        if (!c.maskedTokens().isEmpty()) f.add(c.maskedTokens().size() + " masked tokens");
        if (c.layers().stream().anyMatch(l -> l.attention() == LayerSpec.Attention.SPARSE)) f.add("block-sparse attention");
        return f;
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * Writes a randomly initialized model of {@code c} in its architecture's Hugging Face layout:
     * matrices and embeddings N(0, 0.02²), biases N(0, 0.02²), norm weights 1 (0 for Gemma's 1 + w).
     */
    public static void writeRandom(ModelConfig c, DType dtype, long seed, Path dir) throws IOException {
        writeRandom(c, dtype, seed, dir, 0.02);
    }

    /** As {@link #writeRandom(ModelConfig, DType, long, Path)} with matrices, embeddings and biases N(0, std²) (tests want a real spread). */
    static void writeRandom(ModelConfig c, DType dtype, long seed, Path dir, double std) throws IOException {
        if (!dtype.isFloat()) throw new IllegalArgumentException("init: --dtype must be f32, bf16 or f16, not " + dtype);
        Architecture arch = Architectures.of(c.architecture());
        List<WeightRule> rules = arch.weights(c, new HashSet<>());
        SafeTensorsWriter w = new SafeTensorsWriter();
        SafeTensorsDType st = SafeTensorsDType.valueOf(dtype.name());
        SplittableRandom rng = new SplittableRandom(seed);
        java.util.Set<String> written = new HashSet<>();
        for (WeightRule r : rules) {
            boolean norm = r.name().contains("norm.");
            for (String s : r.sources()) {
                if (!written.add(s)) continue;
                long[] shape = r.sourceShape();
                long elements = numel(shape);
                if (elements * dtype.bytes() > Integer.MAX_VALUE - 16) {
                    throw new IllegalArgumentException("init: tensor " + s + " has " + elements + " elements (" + elements * dtype.bytes()
                            + " bytes); init writes tensors of at most 2 GiB" + (c.isByteLatent() ? " (the blt-1b-hash64k preset has the same "
                            + "shape with a smaller hash table)" : ""));
                }
                int n = (int) elements;
                ByteBuffer b = ByteBuffer.allocate(n * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                float fill = c.norm() == ModelConfig.NormKind.RMS_PLUS_ONE ? 0f : 1f;
                for (int i = 0; i < n; i++) {
                    float v = norm && !r.name().endsWith(".bias") ? fill : (float) (std * gauss(rng));
                    switch (dtype) {
                        case F32 -> b.putFloat(v);
                        case BF16 -> b.putShort(Half.f32ToBf16(v));
                        default -> b.putShort(Half.f32ToF16(v));
                    }
                }
                b.flip();
                w.add(s, st, shape, b);
            }
        }
        Files.createDirectories(dir);
        ObjectNode cfg = arch.hfConfig(c);
        cfg.put("torch_dtype", switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        });
        Json.MAPPER.writeValue(dir.resolve("config.json").toFile(), cfg);
        w.metadata("format", "pt");
        w.write(dir.resolve(ShardedSafeTensors.SINGLE_FILE));
    }

    private static double gauss(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
