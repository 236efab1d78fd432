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
        out.put("config", Json.MAPPER.readTree(c.toJson()));
        return out;
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
                int n = Math.toIntExact(numel(shape));
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
