package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.io.ShardedSafeTensors;
import dev.braindrip.io.TensorSource;
import dev.braindrip.model.OwnArchitecturesTest.Ckpt;
import dev.braindrip.reference.Phi3SmallReference;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Phi-3-small ({@code phi3small}) against its independent fp64 oracle {@link Phi3SmallReference}
 * (transformers has no phi3small: it is remote code): tiny random checkpoints written here, weights
 * N(0, 0.3²) (norm weights 1 + N(0, 0.1²), biases N(0, 0.1²)) so that attention is far from uniform
 * and the gegelu clamp bites, rows of up to 200 tokens over blocks of 64 (local 2 blocks, vertical
 * stride 4: from block 3 on, each query head skips a different earlier block), GQA 4/2 so that the
 * grouped query_key_value layout matters. A ragged batch in ONE F32 forward, each row against the
 * oracle (NMSE ≤ 1e-8 over the unmasked logits; the dummy tokens exactly finfo(float32).min); the
 * features matter (block-sparse vs dense, the clamp); BF16 stays close, its dummy tokens at BF16's
 * lowest value; a session's prefill and steps equal the full
 * forward; save → load is bit-identical and writes the checkpoint's tensors back byte for byte;
 * the released Phi-3-small-8k-instruct config.json maps as its modeling code says.
 */
class Phi3SmallTest {
    static final double MAX_NMSE = 1e-8;
    static final double MIN_FEATURE_NMSE = 1e-4;
    /** 128·u² with BF16's u = 2^-8 (≈ 2e-3): rounding at every op over 4 layers; measured 3.5e-4 (≈ 23·u²). */
    static final double BF16_MAX_NMSE = 128 * 0x1p-16;
    static final int VOCAB = 512;
    static final List<Integer> DUMMY = List.of(3, 100, 511);

    @TempDir
    Path tmp;

    /** 4 layers (0, 2 block-sparse; 1, 3 dense), width 64, 4 query heads over 2 KV heads, F = 96, clamp 3. */
    static ObjectNode config() {
        ObjectNode o = Fixtures.JSON.createObjectNode();
        o.put("model_type", "phi3small").put("vocab_size", VOCAB).put("hidden_size", 64).put("num_hidden_layers", 4)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("ff_intermediate_size", 96).putNull("ff_dim_multiplier")
                .put("max_position_embeddings", 512).put("hidden_act", "gegelu").put("gegelu_limit", 3.0)
                .put("blocksparse_block_size", 64).put("blocksparse_num_local_blocks", 2).put("blocksparse_vert_stride", 4)
                .put("blocksparse_homo_head_pattern", false).put("blocksparse_triton_kernel_block_size", 64)
                .put("dense_attention_every_n_layers", 2).put("layer_norm_epsilon", 1e-5).put("mup_use_scaling", true)
                .put("mup_attn_multiplier", 1.0).put("mup_embedding_multiplier", 10.0).put("mup_width_multiplier", 8.0)
                .put("rope_embedding_base", 1e6).put("rope_position_scale", 1.0).put("bos_token_id", 1).put("eos_token_id", 2);
        ArrayNode d = o.putArray("dummy_token_indices");
        DUMMY.forEach(d::add);
        return o;
    }

    /**
     * The other branches: homogeneous heads (vstride shared), positions × 0.5, no clamp, an untied
     * lm_head, F from ff_dim_multiplier (2·⌊64/3⌋·2 = 84 → 256), 1/√d scores, no dummy tokens in
     * config.json (the tokenizer's, all ≥ vocab_size: none).
     */
    static ObjectNode variantConfig() {
        ObjectNode o = config();
        o.put("blocksparse_homo_head_pattern", true).put("rope_position_scale", 0.5).putNull("gegelu_limit")
                .put("tie_word_embeddings", false).putNull("ff_intermediate_size").put("ff_dim_multiplier", 2)
                .put("mup_use_scaling", false).put("num_hidden_layers", 3).put("dense_attention_every_n_layers", 3);
        o.remove("dummy_token_indices");
        return o;
    }

    /** Random weights by the architecture's rules (checkpoint names and shapes). */
    static Ckpt random(ObjectNode cfg, long seed) {
        Architecture arch = Architectures.of("phi3small");
        ModelConfig c = arch.config(new HfConfig(cfg, null));
        SplittableRandom rng = new SplittableRandom(seed);
        Ckpt k = new Ckpt(cfg);
        for (WeightRule r : arch.weights(c, new HashSet<>())) {
            for (String s : r.sources()) {
                if (k.values.containsKey(s)) continue;
                long[] shape = r.sourceShape();
                int n = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
                float[] v = new float[n];
                boolean norm = s.contains("layernorm"), bias = s.endsWith(".bias");
                for (int i = 0; i < n; i++) {
                    double g = OwnArchitecturesTest.gauss(rng);
                    v[i] = (float) (norm && !bias ? 1 + 0.1 * g : bias ? 0.1 * g : 0.3 * g);
                }
                k.shapes.put(s, shape.clone());
                k.values.put(s, v);
            }
        }
        return k;
    }

    static Phi3SmallReference reference(Ckpt k) {
        return Phi3SmallReference.of(k.cfg, k.weights());
    }

    /** NMSE of row {@code row} of packed logits against the oracle over the unmasked columns; masked ones must equal finfo.min. */
    static double rowNmse(float[] got, int row, double[] want, List<Integer> masked, List<String> failures, String what) {
        double num = 0, den = 0;
        Set<Integer> m = new HashSet<>(masked);
        for (int v = 0; v < VOCAB; v++) {
            float g = got[row * VOCAB + v];
            if (m.contains(v)) {
                if (g != -Float.MAX_VALUE || want[v] != Phi3SmallReference.FLOAT32_MIN) {
                    failures.add(String.format("%s: masked token %d has logit %s (oracle %s), expected finfo(float32).min", what, v, g, want[v]));
                }
                continue;
            }
            double e = g - want[v];
            num += e * e;
            den += want[v] * want[v];
        }
        return num / den;
    }

    /** One F32 forward of all rows as a ragged batch, each row against the oracle; returns the packed logits. */
    float[] checkAgainstReference(String what, Ckpt k, Path dir, int[][] rows, List<Integer> masked, List<String> failures)
            throws IOException {
        Phi3SmallReference ref = reference(k);
        float[] got;
        try (Transformer m = k.load(dir)) {
            got = Fixtures.forward(m, TokenBatch.of(rows), VOCAB);
        }
        int at = 0;
        for (int r = 0; r < rows.length; r++) {
            double[][] want = ref.forward(rows[r]);
            double worst = 0;
            for (int t = 0; t < rows[r].length; t++) worst = Math.max(worst, rowNmse(got, at + t, want[t], masked, failures, what));
            System.out.printf("  %s row %d (S=%d): worst token NMSE %.3e vs Phi3SmallReference%n", what, r, rows[r].length, worst);
            if (!(worst <= MAX_NMSE)) failures.add(String.format("%s row %d (S=%d): NMSE %.3e > %.0e", what, r, rows[r].length, worst, MAX_NMSE));
            at += rows[r].length;
        }
        return got;
    }

    static double nmseUnmasked(float[] a, float[] b, List<Integer> masked) {
        Set<Integer> m = new HashSet<>(masked);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            if (m.contains(i % VOCAB)) continue;
            double e = (double) a[i] - b[i];
            num += e * e;
            den += (double) b[i] * b[i];
        }
        return num / den;
    }

    // ---- forward against the oracle, and the features matter

    @Test
    void raggedBatchMatchesReference() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(config(), 301);
        int[][] rows = OwnArchitecturesTest.randomRows(302, VOCAB, 1, 70, 200);
        float[] with = checkAgainstReference("phi3small", k, tmp.resolve("sparse"), rows, DUMMY, failures);

        // every layer dense: the same weights with dense_attention_every_n_layers = 1
        ObjectNode dense = k.cfg.deepCopy().put("dense_attention_every_n_layers", 1);
        Ckpt kd = k.copy(dense, n -> true);
        float[] without = checkAgainstReference("phi3small all dense", kd, tmp.resolve("dense"), rows, DUMMY, failures);
        double e = nmseUnmasked(with, without, DUMMY);
        System.out.printf("  block-sparse vs dense: NMSE %.3e%n", e);
        if (!(e > MIN_FEATURE_NMSE)) failures.add(String.format("block-sparse layers barely change the logits (NMSE %.3e)", e));
        double eRef = OwnArchitecturesTest.nmse(Fixtures.flatten(strip(reference(k).forward(rows[2]))),
                Fixtures.flatten(strip(reference(kd).forward(rows[2]))));
        if (!(eRef > MIN_FEATURE_NMSE)) failures.add(String.format("Phi3SmallReference: the layout barely matters (NMSE %.3e)", eRef));

        // the clamp: the same weights without gegelu_limit
        Ckpt kn = k.copy(k.cfg.deepCopy().putNull("gegelu_limit"), n -> true);
        float[] unclamped = checkAgainstReference("phi3small no clamp", kn, tmp.resolve("noclamp"), rows, DUMMY, failures);
        double ec = nmseUnmasked(with, unclamped, DUMMY);
        System.out.printf("  gegelu_limit 3 vs none: NMSE %.3e%n", ec);
        if (!(ec > MIN_FEATURE_NMSE)) failures.add(String.format("the gegelu clamp barely changes the logits (NMSE %.3e)", ec));
        OwnArchitecturesTest.report(failures);
    }

    /** The dummy columns zeroed, for feature comparisons of the oracle. */
    private static double[][] strip(double[][] logits) {
        for (double[] row : logits) for (int v : DUMMY) row[v] = 0;
        return logits;
    }

    @Test
    void variantMatchesReference() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(variantConfig(), 311);
        ModelConfig c = Architectures.of("phi3small").config(new HfConfig(k.cfg, null));
        assertEquals(256, c.intermediate(), "ff_dim_multiplier 2 · ⌊64/3⌋ · 2 = 84, padded to 256");
        assertTrue(c.maskedTokens().isEmpty(), "the tokenizer's dummy tokens lie beyond vocab_size 512");
        assertEquals("sparse local:2,vstride:4/64, dense", c.layer(0).describe());
        int[][] rows = OwnArchitecturesTest.randomRows(312, VOCAB, 200, 5, 131);
        checkAgainstReference("phi3small variant", k, tmp.resolve("variant"), rows, List.of(), failures);
        OwnArchitecturesTest.report(failures);
    }

    /** BF16 weights and activations: close to the oracle (BF16's rounding over 4 layers), the dummy tokens at BF16's lowest value. */
    @Test
    void bf16ForwardIsCloseAndMasksTheDummyTokens() throws IOException {
        Ckpt k = random(config(), 341);
        int[][] rows = OwnArchitecturesTest.randomRows(342, VOCAB, 200);
        double[][] want = reference(k).forward(rows[0]);
        float[] got;
        try (Transformer m = Transformer.load(k.write(tmp.resolve("bf16")), Device.cpu(), DType.BF16)) {
            got = Fixtures.forward(m, TokenBatch.of(rows), VOCAB);
        }
        float lowest = Float.intBitsToFloat(0xFF7F0000);
        double num = 0, den = 0;
        for (int t = 0; t < rows[0].length; t++) {
            for (int v = 0; v < VOCAB; v++) {
                float g = got[t * VOCAB + v];
                if (DUMMY.contains(v)) {
                    assertEquals(lowest, g, "token " + t + ": dummy token " + v + " in BF16");
                    continue;
                }
                num += (g - want[t][v]) * (g - want[t][v]);
                den += want[t][v] * want[t][v];
            }
        }
        System.out.printf("  BF16 forward (S=200) vs Phi3SmallReference: NMSE %.3e%n", num / den);
        assertTrue(num / den <= BF16_MAX_NMSE, "BF16 NMSE " + num / den);
    }

    // ---- incremental decoding equals recomputation

    @Test
    void sessionPrefillAndStepsEqualTheFullForward() throws IOException {
        Ckpt k = random(config(), 321);
        int[] prompts = {120, 60, 3};
        int steps = 10;
        int batch = prompts.length;
        int[] full = new int[batch];
        for (int b = 0; b < batch; b++) full[b] = prompts[b] + steps;
        int[][] seqs = OwnArchitecturesTest.randomRows(322, VOCAB, full);
        List<String> failures = new ArrayList<>();
        try (Transformer model = k.load(tmp.resolve("m")); Session session = model.session(batch, Arrays.stream(full).max().getAsInt())) {
            int[][] pr = new int[batch][];
            for (int b = 0; b < batch; b++) pr[b] = Arrays.copyOf(seqs[b], prompts[b]);
            TokenBatch pb = TokenBatch.of(pr);
            float[] fwd = Fixtures.forward(model, pb, VOCAB);
            float[] pre;
            try (Tensor t = session.prefill(pb)) {
                pre = t.toFloatArray();
            }
            double e0 = nmseUnmasked(pre, fwd, DUMMY);
            System.out.printf("  prefill vs forward: NMSE %.3e%n", e0);
            if (!(e0 <= 1e-9)) failures.add(String.format("prefill NMSE %.3e", e0));
            float[] last = null;
            for (int s = 0; s < steps; s++) {
                int[] next = new int[batch];
                int[][] rows = new int[batch][];
                for (int b = 0; b < batch; b++) {
                    next[b] = seqs[b][prompts[b] + s];
                    rows[b] = Arrays.copyOf(seqs[b], prompts[b] + s + 1);
                }
                float[] got;
                try (Tensor t = session.step(next)) {
                    assertEquals(List.of((long) batch, (long) VOCAB), List.of(t.dim(0), t.dim(1)), "step shape");
                    got = t.toFloatArray();
                }
                TokenBatch tb = TokenBatch.of(rows);
                float[] want = Fixtures.forward(model, tb, VOCAB);
                for (int b = 0; b < batch; b++) {
                    int lastRow = tb.offset(b) + tb.length(b) - 1;
                    float[] g = Arrays.copyOfRange(got, b * VOCAB, (b + 1) * VOCAB), w = Arrays.copyOfRange(want, lastRow * VOCAB, (lastRow + 1) * VOCAB);
                    double e = nmseUnmasked(g, w, DUMMY);
                    if (!(e <= 1e-9)) failures.add(String.format("step %d seq %d (position %d): NMSE %.3e", s, b, rows[b].length - 1, e));
                }
                last = got;
            }
            Phi3SmallReference ref = reference(k);
            for (int b = 0; b < batch; b++) {
                double[][] r = ref.forward(seqs[b]);
                double e = rowNmse(last, b, r[r.length - 1], DUMMY, failures, "last step seq " + b);
                System.out.printf("  last step seq %d (position %d) vs Phi3SmallReference: NMSE %.3e%n", b, full[b] - 1, e);
                if (!(e <= MAX_NMSE)) failures.add(String.format("last step seq %d vs Phi3SmallReference: NMSE %.3e", b, e));
            }
        }
        if (!failures.isEmpty()) fail(String.join("; ", failures));
    }

    // ---- save → load

    @Test
    void saveLoadIsBitIdenticalAndWritesTheCheckpointBack() throws IOException {
        for (ObjectNode cfg : List.of(config(), variantConfig())) {
            Ckpt k = random(cfg, 331);
            int[][] rows = OwnArchitecturesTest.randomRows(332, VOCAB, 1, 70, 150);
            Path saved = tmp.resolve("saved-" + cfg.get("num_hidden_layers"));
            float[] a, b;
            try (Transformer m = k.load(tmp.resolve("orig-" + cfg.get("num_hidden_layers")))) {
                a = Fixtures.forward(m, TokenBatch.of(rows), VOCAB);
                m.save(saved);
            }
            try (Transformer m = Transformer.load(saved, Device.cpu(), DType.F32)) {
                b = Fixtures.forward(m, TokenBatch.of(rows), VOCAB);
                m.save(tmp.resolve("saved2"));
            }
            for (int i = 0; i < a.length; i++) {
                if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) fail("logit " + i + " differs after save → load: " + a[i] + " vs " + b[i]);
            }
            try (TensorSource src = ShardedSafeTensors.open(saved)) {
                assertEquals(new HashSet<>(k.values.keySet()), new HashSet<>(src.names()), "saved tensor names");
                for (String n : k.values.keySet()) {
                    float[] got = src.toFloatArray(n);
                    if (!Arrays.equals(k.values.get(n), got)) fail("saved tensor " + n + " differs from the checkpoint's");
                }
            }
            JsonNode s1 = Fixtures.JSON.readTree(saved.resolve("config.json").toFile());
            JsonNode s2 = Fixtures.JSON.readTree(tmp.resolve("saved2").resolve("config.json").toFile());
            assertEquals(s1, s2, "a second save writes the same config.json");
            Architecture arch = Architectures.of("phi3small");
            assertEquals(arch.config(new HfConfig(cfg, null)), arch.config(new HfConfig(s1, null)), "saved config.json maps to the same ModelConfig");
        }
    }

    // ---- the released config.json, presets, errors

    /** microsoft/Phi-3-small-8k-instruct's config.json (its fields that the model reads). */
    static ObjectNode releasedConfig() {
        ObjectNode o = Fixtures.JSON.createObjectNode();
        o.put("model_type", "phi3small").put("blocksparse_block_size", 64).put("blocksparse_homo_head_pattern", false)
                .put("blocksparse_num_local_blocks", 16).put("blocksparse_triton_kernel_block_size", 64).put("blocksparse_vert_stride", 8)
                .put("bos_token_id", 100257).put("dense_attention_every_n_layers", 2).put("eos_token_id", 100257).putNull("ff_dim_multiplier")
                .put("ff_intermediate_size", 14336).put("gegelu_limit", 20.0).put("gegelu_pad_to_256", true).put("hidden_act", "gegelu")
                .put("hidden_size", 4096).put("layer_norm_epsilon", 1e-5).put("max_position_embeddings", 8192)
                .put("mup_attn_multiplier", 1.0).put("mup_embedding_multiplier", 10.0).put("mup_use_scaling", true)
                .put("mup_width_multiplier", 8.0).put("num_attention_heads", 32).put("num_hidden_layers", 32).put("num_key_value_heads", 8)
                .put("rope_embedding_base", 1000000).put("rope_position_scale", 1.0).put("vocab_size", 100352).put("attention_bias", false);
        return o;
    }

    @Test
    void releasedConfigMapsAsTheModelingCodeSays() {
        ModelConfig c = Architectures.of("phi3small").config(new HfConfig(releasedConfig(), null));
        assertEquals(128, c.headDim());
        assertEquals(1.0 / 128, c.attentionScale(), "mup_attn_multiplier / head_dim");
        assertEquals(10.0, c.embeddingScale());
        assertEquals(0.125, c.logitScale());
        assertEquals(20.0, c.gluLimit());
        assertEquals(ModelConfig.FfnActivation.GEGELU_CLAMPED, c.activation());
        assertEquals(14336, c.intermediate());
        assertTrue(c.tieEmbeddings(), "tie_word_embeddings defaults to true (PretrainedConfig)");
        assertEquals(ModelConfig.NormKind.LAYER, c.norm());
        assertTrue(c.normBias() && c.qkvBias() && c.outBias() && c.mlpBias());
        assertEquals(1e6, c.rope().theta());
        assertEquals(RopeConfig.Scaling.NONE, c.rope().scaling());
        for (int i = 0; i < 32; i++) {
            String want = i % 2 == 0 ? "sparse local:16,hvstride:8/64, dense" : "full, dense";
            assertEquals(want, c.layer(i).describe(), "layer " + i);
        }
        assertEquals(91, c.maskedTokens().size());
        assertTrue(c.maskedTokens().containsAll(List.of(100256, 100258, 100259, 100260, 100264, 100265, 100267, 100351)));
        assertFalse(c.maskedTokens().contains(100257), "<|endoftext|> is not a dummy token");
        assertFalse(c.maskedTokens().contains(100266), "<|end|> is not a dummy token");
        assertEquals(List.of(100257), c.eosTokenIds());
        // the same with every field left out: Phi3SmallConfig's defaults are the released values
        ModelConfig defaults = Architectures.of("phi3small").config(new HfConfig(Fixtures.JSON.createObjectNode().put("model_type", "phi3small"), null));
        assertEquals(c, defaults);
    }

    @Test
    void presetsRoundTripThroughConfigJson() {
        Architecture arch = Architectures.of("phi3small");
        for (String p : arch.presets()) {
            ModelConfig c = arch.preset(p);
            assertEquals(c, arch.config(new HfConfig(arch.hfConfig(c), null)), "preset " + p);
            assertEquals(c, ModelConfig.fromJson(c.toJson()), "preset " + p + " JSON");
            assertEquals("phi3small", c.architecture());
        }
        assertEquals("sparse local:2,hvstride:4/64, dense", arch.preset("tiny").layer(0).describe());
        assertEquals("full, dense", arch.preset("tiny").layer(1).describe());
    }

    @Test
    void writeRandomPresetLoadsAndRuns() throws IOException {
        Path dir = tmp.resolve("init");
        Checkpoints.writeRandom(Architectures.of("phi3small").preset("tiny"), DType.F32, 7, dir);
        try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32)) {
            float[] out = Fixtures.forward(m, TokenBatch.of(new int[] {1, 2, 3}, new int[] {4}), VOCAB);
            for (float v : out) assertTrue(Float.isFinite(v), "non-finite logit");
        }
    }

    @Test
    void unsupportedConfigsAreRefusedNamingTheField() {
        Architecture arch = Architectures.of("phi3small");
        ObjectNode longrope = releasedConfig();
        longrope.putObject("rope_scaling").put("type", "longrope");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(longrope, null)));
        assertTrue(e.getMessage().contains("rope_scaling"), e.getMessage());
        ObjectNode act = releasedConfig().put("hidden_act", "gelu");
        e = assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(act, null)));
        assertTrue(e.getMessage().contains("hidden_act"), e.getMessage());
        ObjectNode both = releasedConfig().put("ff_dim_multiplier", 2);
        e = assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(both, null)));
        assertTrue(e.getMessage().contains("ff_dim_multiplier"), e.getMessage());
        ObjectNode block = releasedConfig().put("blocksparse_block_size", 32).put("blocksparse_triton_kernel_block_size", 32);
        e = assertThrows(IllegalArgumentException.class, () -> arch.config(new HfConfig(block, null)));
        assertTrue(e.getMessage().contains("blocksparse_block_size"), e.getMessage());
    }
}
