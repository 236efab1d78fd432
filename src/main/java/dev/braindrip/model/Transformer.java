package dev.braindrip.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.braindrip.io.ShardedSafeTensors;
import dev.braindrip.io.TensorInfo;
import dev.braindrip.io.TensorSource;
import dev.braindrip.nn.DenseKvCache;
import dev.braindrip.nn.DifferentialAttention;
import dev.braindrip.nn.FeedForward;
import dev.braindrip.nn.KvCache;
import dev.braindrip.nn.SparseLayouts;
import dev.braindrip.nn.Linear;
import dev.braindrip.nn.MoeFeedForward;
import dev.braindrip.nn.Norm;
import dev.braindrip.nn.Rotary;
import dev.braindrip.nn.SelfAttention;
import dev.braindrip.nn.TransformerBlock;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.ops.moe.ExpertActivation;
import dev.braindrip.ops.moe.GateUpLayout;
import dev.braindrip.ops.moe.MixtureOfDepths;
import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.MoeLayer;
import dev.braindrip.ops.moe.MoeWeights;
import dev.braindrip.ops.moe.Routing;
import dev.braindrip.ops.moe.SharedExpert;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * A model you load, run and close: weights in one arena on its device (in the checkpoint's dtype
 * unless asked otherwise), activations in another whose reuse pool keeps steady-state memory flat,
 * and the one block assembly every architecture shares.
 *
 * <pre>{@code
 * try (Transformer m = Transformer.load(Path.of("models/qwen3-0.6b"), Device.best(), null)) {
 *     try (Tensor logits = m.forward(TokenBatch.of(new int[] {1, 2, 3}, new int[] {4, 5}))) { ... }   // (5, V)
 * }
 * }</pre>
 */
public final class Transformer implements AutoCloseable {
    private static final long ACTIVATION_LIMIT = 1L << 40; // accounting only; a budget comes with the generator

    private final ModelConfig config;
    private final Architecture arch;
    private final Arena weightArena;
    private final Arena arena;
    private final Ops ops;
    private final Weights weights;
    private final List<Tensor> derived = new ArrayList<>();
    private final List<TransformerBlock> blocks = new ArrayList<>();
    private final List<Attn> attns = new ArrayList<>();
    private final List<MixtureOfDepths> mods = new ArrayList<>();   // per layer, null when not routed
    private final List<Float> modThresholds = new ArrayList<>();
    private final Norm finalNorm, embedNorm;
    private final Tensor head;
    private Path directory; // where it was loaded from (its tokenizer files), or null
    private final Tensor tokenMask; // (V): 0, or the dtype's lowest finite value for config.maskedTokens(); null when none
    private final EncoderDecoder seq2seq; // the encoder-decoder assembly (T5), or null for a single stack
    private final ByteLatent latent;      // the Byte Latent Transformer assembly (BLT), or null
    private boolean closed;

    private Transformer(ModelConfig config, Architecture arch, Arena weightArena, Weights weights) {
        this.config = config;
        this.arch = arch;
        this.weightArena = weightArena;
        this.weights = weights;
        this.arena = Arena.on(weightArena.device(), ACTIVATION_LIMIT);
        this.ops = Ops.on(arena);
        try {
            if (config.isEncoderDecoder() || config.isByteLatent()) {
                seq2seq = config.isEncoderDecoder() ? new EncoderDecoder(config, weights, arena, ops) : null;
                latent = config.isByteLatent() ? new ByteLatent(config, weights, arena, ops) : null;
                finalNorm = embedNorm = null;
                head = tokenMask = null;
                return;
            }
            seq2seq = null;
            latent = null;
            for (int i = 0; i < config.layerCount(); i++) blocks.add(block(i));
            finalNorm = config.stack() == ModelConfig.Stack.ENCODER && config.normPlacement() == ModelConfig.NormPlacement.POST ? null
                    : norm("final_norm");
            embedNorm = weights.has("embed_norm.weight") ? norm("embed_norm") : null;
            head = config.tieEmbeddings() ? weights.get("embed") : weights.getOrNull("lm_head");
            tokenMask = config.maskedTokens().isEmpty() ? null : tokenMask();
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    // ---- loading

    /**
     * Loads {@code model}: the name {@value DemoModel#NAME} (the embedded demo model, see {@link DemoModel}) or a Hugging Face
     * checkpoint directory, as {@link #load(Path, Device, DType)}.
     */
    public static Transformer load(String model, Device device, DType dtype) throws IOException {
        return load(resolve(model), device, dtype);
    }

    /** The directory {@code model} names: {@link DemoModel#path()} for {@value DemoModel#NAME}, else the path itself. */
    public static Path resolve(String model) throws IOException {
        if (model == null || model.isBlank()) throw new IllegalArgumentException("model: give a model directory or '" + DemoModel.NAME + "'");
        return DemoModel.isName(model) ? DemoModel.path(model) : Path.of(model);
    }

    /**
     * Loads a Hugging Face checkpoint directory (config.json and model.safetensors, or the shards of
     * model.safetensors.index.json) onto {@code device} in {@code dtype} (null: the checkpoint's own).
     */
    public static Transformer load(Path dir, Device device, DType dtype) throws IOException {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "model directory not found");
        if (!Files.isRegularFile(cfgFile)) throw new NoSuchFileException(cfgFile.toString(), null, "no config.json in the model directory");
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(cfgFile));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(cfgFile + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        HfConfig hf = new HfConfig(root, cfgFile);
        Architecture arch;
        try {
            arch = Architectures.of(hf.modelType());
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
        ModelConfig config = arch.config(hf);
        try (TensorSource src = openWeights(dir)) {
            List<WeightRule> rules = arch.weights(config, new HashSet<>(src.names()));
            DType dt = dtype != null ? dtype : checkpointDType(src, rules, dir);
            if (!dt.isFloat()) throw new IllegalArgumentException("model dtype must be F32, F16 or BF16, not " + dt);
            Arena wa = Arena.on(device, weightLimit(rules, dt));
            try {
                Weights w = Weights.load(src, rules, arch, wa, dt, dir.toString());
                Transformer t = new Transformer(config, arch, wa, w);
                t.directory = dir;
                return t;
            } catch (RuntimeException e) {
                wa.releaseAll();
                wa.close();
                throw e;
            }
        }
    }

    private static TensorSource openWeights(Path dir) throws IOException {
        if (!Files.exists(dir.resolve(ShardedSafeTensors.SINGLE_FILE)) && !Files.exists(dir.resolve(ShardedSafeTensors.INDEX_FILE))) {
            throw new NoSuchFileException(dir.resolve(ShardedSafeTensors.SINGLE_FILE).toString(), null,
                    "no model.safetensors or model.safetensors.index.json in the model directory");
        }
        return ShardedSafeTensors.open(dir);
    }

    private static DType checkpointDType(TensorSource src, List<WeightRule> rules, Path dir) {
        TensorInfo info = src.info(rules.get(0).sources().get(0));
        return switch (info.dtype()) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            default -> throw new IllegalArgumentException(dir + ": tensor '" + info.name() + "' is " + info.dtype() + ", expected F32, F16 or BF16");
        };
    }

    private static long weightLimit(List<WeightRule> rules, DType dt) {
        long bytes = 0;
        for (WeightRule r : rules) {
            long n = 1;
            for (long d : r.shape()) n = Math.multiplyExact(n, d);
            bytes += n * r.dtypeFor(dt).bytes(); // some tensors keep F32 whatever the model dtype (sinks, router bias)
        }
        return bytes + bytes / 8 + (64L << 20); // the model's extra tensors ((1 + w) norms) and allocation rounding
    }

    /** A model of {@code config} over tensors already made (e.g. random ones), owned from now on by the model. */
    public static Transformer of(ModelConfig config, Weights weights, Arena weightArena) {
        return new Transformer(config, Architectures.of(config.architecture()), weightArena, weights);
    }

    /** Writes config.json and model.safetensors in the architecture's Hugging Face layout. */
    public void save(Path dir) throws IOException {
        checkOpen();
        Files.createDirectories(dir);
        Json.MAPPER.writeValue(dir.resolve("config.json").toFile(), arch.hfConfig(config));
        weights.writer(arch.weights(config, new HashSet<>())).write(dir.resolve(ShardedSafeTensors.SINGLE_FILE));
    }

    // ---- assembly

    private Norm norm(String name) {
        Tensor w = weights.get(name + ".weight");
        Tensor b = weights.getOrNull(name + ".bias");
        float eps = (float) config.normEps();
        return switch (config.norm()) {
            case RMS -> new Norm(Norm.Kind.RMS, w, null, eps);
            case LAYER -> new Norm(Norm.Kind.LAYER, w, b, eps);
            case RMS_PLUS_ONE -> {
                float[] v = w.toFloatArray();
                for (int i = 0; i < v.length; i++) v[i] += 1f;
                Tensor plus = weightArena.fromFloats(v, w.dtype(), w.shape());
                derived.add(plus);
                yield new Norm(Norm.Kind.RMS, plus, null, eps);
            }
        };
    }

    /**
     * The bias that masks config.maskedTokens(): the lowest finite value of the model dtype, so that
     * logit + bias rounds to it for any logit of magnitude below 2^103 (F32) — HF's masked_fill with
     * torch.finfo(float32).min for an F32 model.
     */
    private Tensor tokenMask() {
        DType dt = weights.dtype();
        float lowest = switch (dt) {
            case BF16 -> Float.intBitsToFloat(0xFF7F0000);
            case F16 -> -65504f;
            default -> -Float.MAX_VALUE;
        };
        float[] v = new float[config.vocabSize()];
        for (int t : config.maskedTokens()) v[t] = lowest;
        Tensor m = weightArena.fromFloats(v, dt, v.length);
        derived.add(m);
        return m;
    }

    private Norm normOrNull(String name) {
        return weights.has(name + ".weight") ? norm(name) : null;
    }

    private Linear linear(String name) {
        return new Linear(weights.get(name + ".weight"), weights.getOrNull(name + ".bias"));
    }

    private Rotary rotary() {
        RopeConfig r = config.rope();
        if (r == null) return null;
        RopeSpec spec = new RopeSpec((float) r.theta(), r.interleaved() ? RopeSpec.Style.INTERLEAVED : RopeSpec.Style.HALF, r.rotaryDim());
        if (r.scaling() == RopeConfig.Scaling.NONE) return new Rotary(spec, null, 1f);
        return new Rotary(spec, r.inverseFrequencies(config.headDim()), r.mscale());
    }

    /** A layer's attention over a packed batch (optionally filling its cache) and over one new token per sequence. */
    interface Attn {
        /** Row r fills sequence firstSlot + r of the cache (when given). */
        Tensor forward(Tensor x, Tensor positions, Tensor cuSeqlens, int[] offsets, KvCache cache, int firstSlot);

        Tensor step(Tensor x, Tensor positions, KvCache cache);
    }

    private TransformerBlock block(int i) {
        LayerSpec l = config.layer(i);
        String p = "layers." + i + ".";
        Attn attn = l.attention() == LayerSpec.Attention.DIFFERENTIAL ? differential(i, p) : selfAttention(l, p);
        attns.add(attn);
        if (l.modCapacity() > 0) {
            mods.add(new MixtureOfDepths(arena, weights.get(p + "mod_router.weight"), l.modCapacity()));
            modThresholds.add(weights.get(p + "mod_router.threshold").toFloatArray()[0]);
        } else {
            mods.add(null);
            modThresholds.add(0f);
        }
        TransformerBlock.Ffn ffn = l.ffn() == LayerSpec.Ffn.MOE ? moe(p) : dense(p);
        return switch (config.normPlacement()) {
            case PRE -> new TransformerBlock(TransformerBlock.Placement.PRE, norm(p + "attn_norm"), null, norm(p + "ffn_norm"), null, ffn);
            case SANDWICH -> new TransformerBlock(TransformerBlock.Placement.SANDWICH, norm(p + "attn_norm"), norm(p + "post_attn_norm"),
                    norm(p + "ffn_norm"), norm(p + "post_ffn_norm"), ffn);
            case POST -> new TransformerBlock(TransformerBlock.Placement.POST, norm(p + "post_attn_norm"), null, norm(p + "post_ffn_norm"),
                    null, ffn);
        };
    }

    private Attn selfAttention(LayerSpec l, String p) {
        Norm qn = config.qkNorm() ? new Norm(Norm.Kind.RMS, weights.get(p + "q_norm.weight"), null, (float) config.normEps()) : null;
        Norm kn = config.qkNorm() ? new Norm(Norm.Kind.RMS, weights.get(p + "k_norm.weight"), null, (float) config.normEps()) : null;
        SparseLayouts sparse = l.sparse() == null ? null : new SparseLayouts(l.sparse().pattern(), l.sparse().blockSize(), config.heads());
        SelfAttention a = new SelfAttention(linear(p + "q"), linear(p + "k"), linear(p + "v"), linear(p + "o"), qn, kn, rotary(),
                config.heads(), config.kvHeads(), config.headDim(), config.isCausal(), l.window(), l.sinkTokens(), sparse,
                (float) config.attnSoftcap(), (float) config.effectiveAttentionScale(), l.learnedSinks() ? weights.get(p + "sinks") : null);
        return new Attn() {
            @Override
            public Tensor forward(Tensor x, Tensor positions, Tensor cu, int[] offsets, KvCache cache, int firstSlot) {
                return a.forward(ops, x, positions, cu, offsets, cache, firstSlot);
            }

            @Override
            public Tensor step(Tensor x, Tensor positions, KvCache cache) {
                return a.step(ops, x, positions, cache);
            }
        };
    }

    /** Differential attention (the fused kernel), row by row over a packed batch. */
    private Attn differential(int i, String p) {
        if (config.qkvBias() || config.outBias() || config.rope() == null) {
            throw new IllegalArgumentException("layer " + i + ": differential attention takes no biases and needs RoPE");
        }
        long e = config.hidden();
        DifferentialAttention d = new DifferentialAttention(ops, (int) e, config.heads(), config.kvHeads(), i, weights.get(p + "q.weight"),
                weights.get(p + "k.weight"), weights.get(p + "v.weight"), weights.get(p + "o.weight"), weights.get(p + "lambda_q1").toFloatArray(),
                weights.get(p + "lambda_k1").toFloatArray(), weights.get(p + "lambda_q2").toFloatArray(), weights.get(p + "lambda_k2").toFloatArray(),
                weights.get(p + "subln.weight"), (float) config.rope().theta());
        if (d.headDim() != config.headDim()) {
            throw new IllegalArgumentException("layer " + i + ": differential head dim is hidden / heads / 2 = " + d.headDim() + ", config says " + config.headDim());
        }
        return new Attn() {
            @Override
            public Tensor forward(Tensor x, Tensor positions, Tensor cu, int[] offsets, KvCache cache, int firstSlot) {
                Tensor out = arena.empty(x.dtype(), x.shape());
                try {
                    long rowBytes = e * x.dtype().bytes();
                    for (int b = 0; b + 1 < offsets.length; b++) {
                        int len = offsets[b + 1] - offsets[b];
                        Tensor xb = x.narrow(offsets[b], len).reshape(1, len, e), pb = positions.narrow(offsets[b], len).reshape(1, len);
                        try (Tensor ob = cache == null ? d.forward(xb, pb) : d.prefill(xb, pb, (DenseKvCache) cache, firstSlot + b)) {
                            out.copyRange(ob, 0, offsets[b] * rowBytes, len * rowBytes);
                        }
                    }
                    return out;
                } catch (RuntimeException ex) {
                    out.close();
                    throw ex;
                }
            }

            @Override
            public Tensor step(Tensor x, Tensor positions, KvCache cache) {
                long b = x.dim(0);
                try (Tensor o = d.step(x.reshape(b, 1, e), positions.reshape(b, 1), (DenseKvCache) cache)) {
                    return arena.empty(x.dtype(), b, e).copyFrom(o.reshape(b, e));
                }
            }
        };
    }

    private TransformerBlock.Ffn dense(String p) {
        if (config.activation() == ModelConfig.FfnActivation.GEGELU_CLAMPED) {
            float limit = config.gluLimit() > 0 ? (float) config.gluLimit() : Float.POSITIVE_INFINITY;
            FeedForward f = FeedForward.gatedClamped(linear(p + "gate_up"), linear(p + "down"), limit);
            return f::apply;
        }
        if (config.ffnGated()) {
            Glu glu = switch (config.activation()) {
                case SWIGLU -> Glu.SWIGLU;
                case GEGLU -> Glu.GEGLU;
                case GEGLU_TANH -> Glu.GEGLU_TANH;
                default -> throw new IllegalArgumentException("gated FFN activation " + config.activation() + " is not a GLU");
            };
            FeedForward f = FeedForward.gated(linear(p + "gate_up"), linear(p + "down"), glu);
            return f::apply;
        }
        dev.braindrip.ops.Activation act = switch (config.activation()) {
            case RELU -> dev.braindrip.ops.Activation.RELU;
            case GELU -> dev.braindrip.ops.Activation.GELU;
            case GELU_TANH -> dev.braindrip.ops.Activation.GELU_TANH;
            case SILU -> dev.braindrip.ops.Activation.SILU;
            default -> throw new IllegalArgumentException("plain FFN activation " + config.activation() + " is gated");
        };
        FeedForward f = FeedForward.plain(linear(p + "up"), linear(p + "down"), act);
        return f::apply;
    }

    private TransformerBlock.Ffn moe(String p) {
        MoeSpec m = config.moe();
        ExpertActivation act = switch (config.activation()) {
            case SWIGLU -> ExpertActivation.SWIGLU;
            case GEGLU -> ExpertActivation.GEGLU;
            case GEGLU_TANH -> ExpertActivation.GEGLU_TANH;
            case SWIGLU_OSS -> ExpertActivation.GPTOSS_CLAMPED;
            default -> throw new IllegalArgumentException("MoE experts need a gated activation, not " + config.activation());
        };
        if (act == ExpertActivation.GPTOSS_CLAMPED && m.swigluLimit() != 7) {
            throw new UnsupportedOperationException("moe.swigluLimit " + m.swigluLimit() + ": the expert kernels clamp at 7");
        }
        // gpt-oss keeps gate and up interleaved in one (E, 2F, H) tensor; the others keep them apart
        boolean fused = weights.has(p + "experts.gate_up");
        MoeConfig mc = MoeConfig.builder().experts(m.experts()).topK(m.topK())
                .routing(m.routing() == MoeSpec.Routing.TOPK_SOFTMAX ? Routing.TOPK_SOFTMAX : Routing.SOFTMAX_TOPK).normTopk(m.normTopk())
                .activation(act).gateUpLayout(fused ? GateUpLayout.INTERLEAVED : GateUpLayout.SEPARATE).build();
        MoeWeights w = fused
                ? MoeWeights.of(weights.get(p + "router.weight"), weights.get(p + "experts.gate_up"), null, weights.get(p + "experts.down"))
                        .withBiases(weights.getOrNull(p + "experts.gate_up.bias"), null, weights.getOrNull(p + "experts.down.bias"))
                : MoeWeights.of(weights.get(p + "router.weight"), weights.get(p + "experts.gate"), weights.get(p + "experts.up"),
                        weights.get(p + "experts.down"));
        if (m.routerBias()) w = w.withRouterBias(weights.get(p + "router.bias"));
        if (m.sharedFfn() > 0) {
            w = w.withShared(new SharedExpert(weights.get(p + "shared.gate"), weights.get(p + "shared.up"), weights.get(p + "shared.down"),
                    m.sharedGate() ? weights.get(p + "shared.router") : null));
        }
        MoeFeedForward f = new MoeFeedForward(new MoeLayer(arena, mc, w));
        return f::apply;
    }

    // ---- running

    /** The checkpoint directory this model was loaded from (where its tokenizer files are), if any. */
    public java.util.Optional<Path> directory() {
        return java.util.Optional.ofNullable(directory);
    }

    public ModelConfig config() {
        return config;
    }

    public DType dtype() {
        return weights.dtype();
    }

    public Device device() {
        return weightArena.device();
    }

    public Weights weights() {
        return weights;
    }

    /** Bytes of the weights (and the model's derived tensors) on the device. */
    public long weightBytes() {
        return weightArena.allocatedBytes();
    }

    /** The activation arena (its peak and pool show the steady-state memory). */
    public Arena activations() {
        return arena;
    }

    /**
     * Runs a packed ragged batch: logits (totalTokens, V) for a decoder, the last hidden state
     * (totalTokens, H) for an encoder, in the model dtype; row offset(r) + i is token i of row r.
     */
    public Tensor forward(TokenBatch batch) {
        if (config.isEncoderDecoder()) {
            throw new IllegalArgumentException("forward: " + config.architecture() + " is an encoder-decoder; give the decoder's tokens too "
                    + "(forward(source, decoder)), or run encode(source)");
        }
        if (latent != null) {
            checkOpen();
            return latent.forward(batch);
        }
        return run(batch, null);
    }

    /**
     * An encoder-decoder's decoder logits (total decoder tokens, V) in the model dtype: row r of
     * {@code decoder} (decoder input ids, starting with {@link ModelConfig#decoderStartTokenId()})
     * attends over the encoder output of row r of {@code source}; rows of both are ragged and packed.
     */
    public Tensor forward(TokenBatch source, TokenBatch decoder) {
        checkOpen();
        return encoderDecoder("forward(source, decoder)").forward(source, decoder);
    }

    /** An encoder-decoder's encoder output (total source tokens, H): the last hidden state after the encoder's final norm. */
    public Tensor encode(TokenBatch source) {
        checkOpen();
        return encoderDecoder("encode").encode(source);
    }

    /**
     * A Byte Latent Transformer's patches of one sequence of byte ids (byte + 4, BOS first), as its
     * forward cuts them: Hugging Face's patch lengths (a zero-length last patch when the last byte's
     * entropy passes the threshold; max_patch_length splits applied).
     */
    public int[] patchLengths(int[] ids) {
        checkOpen();
        if (latent == null) throw new IllegalArgumentException("patchLengths: " + config.architecture() + " is not a Byte Latent Transformer");
        latent.checkIds(ids);
        TokenBatch b = TokenBatch.of(ids);
        return ByteLatent.patchLengths(latent.spec(), ids, latent.entropies(b)[0]);
    }

    /** The Byte Latent Transformer assembly of a BLT model (patching, incremental generation), or null. */
    ByteLatent byteLatent() {
        return latent;
    }

    private EncoderDecoder encoderDecoder(String what) {
        if (seq2seq == null) throw new IllegalArgumentException(what + ": " + config.architecture() + " is not an encoder-decoder model");
        return seq2seq;
    }

    /** An incremental session over {@code batch} sequences of at most {@code capacity} tokens each. */
    public Session session(int batch, int capacity) {
        return session(batch, capacity, null);
    }

    /**
     * An incremental session whose full-attention layers keep StreamingLLM caches (the first
     * {@code streaming.sinks()} and the last {@code streaming.window()} tokens, positions re-assigned
     * in the cache), or plain caches when {@code streaming} is null.
     */
    public Session session(int batch, int capacity, Session.Streaming streaming) {
        checkOpen();
        if (config.stack() == ModelConfig.Stack.ENCODER) throw new UnsupportedOperationException("an encoder has no incremental session");
        return new Session(this, batch, capacity, streaming);
    }

    Tensor run(TokenBatch batch, Session session) {
        return run(batch, session, 0, false);
    }

    /**
     * The packed batch's rows fill sequences firstSlot + r of the session (when given); with
     * {@code lastOnly} only each row's last token goes through the final norm and the head, and the
     * result is (rows, V).
     */
    Tensor run(TokenBatch batch, Session session, int firstSlot, boolean lastOnly) {
        checkOpen();
        if (seq2seq != null) {
            // an encoder-decoder session: the rows are sources; each decoder starts at the start token
            return seq2seq.prefill(batch, seq2seq.startTokens(batch.rows()), session, firstSlot);
        }
        checkIds(batch.packed());
        if (config.positions() == ModelConfig.Positions.LEARNED && batch.maxLength() > config.maxPositions()) {
            throw new IllegalArgumentException("a row of " + batch.maxLength() + " tokens exceeds max_position_embeddings (" + config.maxPositions() + ")");
        }
        int t = batch.totalTokens();
        try (Tensor ids = arena.fromInts(batch.packed(), t); Tensor pos = arena.fromInts(batch.positions(), t);
             Tensor cu = arena.fromInts(batch.offsets(), batch.rows() + 1)) {
            Tensor h = embed(ids, pos);
            int[] offsets = batch.offsets();
            for (int i = 0; i < blocks.size(); i++) {
                try (Tensor in = h) {
                    if (mods.get(i) != null) {
                        h = routedPrefill(i, in, offsets, session, firstSlot);
                    } else {
                        Attn a = attns.get(i);
                        KvCache cache = session == null ? null : session.cache(i);
                        h = blocks.get(i).apply(ops, in, x -> a.forward(x, pos, cu, offsets, cache, firstSlot));
                    }
                }
            }
            if (lastOnly) {
                int[] last = new int[batch.rows()];
                for (int r = 0; r < last.length; r++) last[r] = offsets[r + 1] - 1;
                try (Tensor in = h; Tensor idx = arena.fromInts(last, last.length)) {
                    h = ops.embedding(in, idx);
                }
            }
            return finish(h);
        }
    }

    /** One decode step of a session: ids (B) at positions (B). */
    Tensor step(int[] ids, int[] positions, Session session) {
        checkOpen();
        if (seq2seq != null) return seq2seq.step(ids, positions, session);
        checkIds(ids);
        try (Tensor idt = arena.fromInts(ids, ids.length); Tensor pos = arena.fromInts(positions, positions.length)) {
            Tensor h = embed(idt, pos);
            for (int i = 0; i < blocks.size(); i++) {
                try (Tensor in = h) {
                    if (mods.get(i) != null) {
                        h = routedStep(i, in, pos, session);
                    } else {
                        Attn a = attns.get(i);
                        KvCache cache = session.cache(i);
                        h = blocks.get(i).apply(ops, in, x -> a.step(x, pos, cache));
                    }
                }
            }
            return finish(h);
        }
    }

    /**
     * A Mixture-of-Depths layer over a packed batch, row by row: the causal rule picks the tokens
     * (r ≥ threshold), the block runs on their sub-sequence at their own positions (filling sequence
     * b's own cache in a session), and r · (block(x) − x) is added to their rows.
     */
    private Tensor routedPrefill(int i, Tensor h, int[] offsets, Session session, int firstSlot) {
        Tensor out = arena.empty(h.dtype(), h.shape());
        try {
            long rowBytes = h.dim(1) * h.dtype().bytes();
            for (int b = 0; b + 1 < offsets.length; b++) {
                int len = offsets[b + 1] - offsets[b];
                Tensor xb = h.narrow(offsets[b], len);
                KvCache cache = session == null ? null : session.cache(i, firstSlot + b);
                try (var route = mods.get(i).routeCausal(xb, modThresholds.get(i));
                     Tensor yb = mods.get(i).apply(xb, route, g -> {
                         int k = (int) g.dim(0);
                         try (Tensor cu = arena.fromInts(new int[] {0, k}, 2)) {
                             return update(i, g, x -> attns.get(i).forward(x, route.selected(), cu, new int[] {0, k}, cache, 0));
                         }
                     })) {
                    out.copyRange(yb, 0, offsets[b] * rowBytes, len * rowBytes);
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    private Tensor routedStep(int i, Tensor h, Tensor pos, Session session) {
        Tensor out = arena.empty(h.dtype(), h.shape());
        try {
            long rowBytes = h.dim(1) * h.dtype().bytes();
            for (int b = 0; b < h.dim(0); b++) {
                Tensor xb = h.narrow(b, 1), pb = pos.narrow(b, 1);
                KvCache cache = session.cache(i, b);
                try (var route = mods.get(i).routeCausal(xb, modThresholds.get(i));
                     Tensor yb = mods.get(i).apply(xb, route, g -> update(i, g, x -> attns.get(i).step(x, pb, cache)))) {
                    out.copyRange(yb, 0, b * rowBytes, rowBytes);
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** block(g) − g: the update a routed block adds to its tokens' residual rows. */
    private Tensor update(int i, Tensor g, java.util.function.UnaryOperator<Tensor> attend) {
        try (Tensor y = blocks.get(i).apply(ops, g, attend); Tensor neg = ops.scale(g, -1f)) {
            return ops.add(y, neg);
        }
    }

    private void checkIds(int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + ids[i] + " (at " + i + ") is out of range for vocab size " + config.vocabSize());
            }
        }
    }

    private Tensor embed(Tensor ids, Tensor pos) {
        Tensor h = ops.embedding(weights.get("embed"), ids);
        if (config.embeddingScale() != 1) {
            try (Tensor in = h) {
                h = ops.scale(in, (float) config.embeddingScale());
            }
        }
        if (config.positions() == ModelConfig.Positions.LEARNED) {
            try (Tensor in = h; Tensor p = ops.embedding(weights.get("pos_embed"), pos)) {
                h = ops.add(in, p);
            }
        }
        if (config.typeVocab() > 0) {
            try (Tensor in = h; Tensor zeros = arena.zeros(DType.I32, ids.numel()); Tensor ty = ops.embedding(weights.get("type_embed"), zeros)) {
                h = ops.add(in, ty);
            }
        }
        if (embedNorm != null) {
            try (Tensor in = h) {
                h = embedNorm.apply(ops, in);
            }
        }
        return h;
    }

    private Tensor finish(Tensor h) {
        if (finalNorm != null) {
            try (Tensor in = h) {
                h = finalNorm.apply(ops, in);
            }
        }
        if (config.stack() == ModelConfig.Stack.ENCODER) return h;
        Tensor logits;
        try (Tensor in = h) {
            logits = ops.gemm(in, head, null, true);
        }
        if (config.logitScale() != 1) {
            try (Tensor in = logits) {
                logits = ops.scale(in, (float) config.logitScale());
            }
        }
        if (config.finalSoftcap() > 0) {
            try (Tensor in = logits) {
                logits = ops.softcap(in, (float) config.finalSoftcap());
            }
        }
        if (tokenMask != null) {
            try (Tensor in = logits) {
                logits = ops.addBias(in, tokenMask);
            }
        }
        return logits;
    }

    Arena arena() {
        return arena;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("use of a closed model");
    }

    private void closeQuietly() {
        arena.releaseAll();
        arena.close();
        for (Tensor t : derived) t.close();
        weights.close();
        weightArena.releaseAll();
        weightArena.close();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        closeQuietly();
    }
}
