package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * The library's own {@code sparse_llama}: the Llama layout with block-sparse attention layers.
 * config.json adds {@code sparse_pattern} (CLI.md's pattern syntax, e.g. "local:4,vstride:8"; also
 * "hvstride:S", Phi-3-small's per-head vertical stride), {@code sparse_block_size} (a multiple of 64,
 * default 64) and {@code dense_attention_every_n_layers} (n > 0: layers with (i + 1) % n == 0 stay
 * dense, as Phi-3-small does; 0: every layer sparse). Causal inside the listed blocks.
 */
final class SparseLlama extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("sparse_llama");
    }

    @Override
    String hfClass() {
        return "SparseLlamaForCausalLM";
    }

    @Override
    LayerSpec layer(HfConfig hf, int i, int layers, LayerSpec.Ffn ffn) {
        int every = hf.integer("dense_attention_every_n_layers", 0);
        if (every < 0) throw hf.error("dense_attention_every_n_layers (" + every + ") must be >= 0");
        if (every > 0 && (i + 1) % every == 0) return LayerSpec.full(ffn);
        LayerSpec.SparsePattern p;
        try {
            p = new LayerSpec.SparsePattern(hf.string("sparse_pattern"), hf.integer("sparse_block_size", 64));
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
        return new LayerSpec(LayerSpec.Attention.SPARSE, 0, 0, false, p, ffn, 0);
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        LayerSpec.SparsePattern p = null;
        int every = 0;
        List<Integer> dense = new ArrayList<>();
        for (int i = 0; i < c.layerCount(); i++) {
            if (c.layer(i).sparse() != null) p = c.layer(i).sparse();
            else dense.add(i);
        }
        if (p == null) throw new IllegalArgumentException("sparse_llama: no sparse layer");
        if (!dense.isEmpty()) {
            every = dense.get(0) + 1;
            for (int i = 0; i < c.layerCount(); i++) {
                if (((i + 1) % every == 0) != dense.contains(i)) {
                    throw new IllegalArgumentException("sparse_llama: dense layers " + dense + " are not every n-th layer");
                }
            }
        }
        o.put("sparse_pattern", p.pattern()).put("sparse_block_size", p.blockSize()).put("dense_attention_every_n_layers", every);
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        return super.presetJson(name).put("sparse_pattern", "local:2,vstride:4").put("sparse_block_size", 64)
                .put("dense_attention_every_n_layers", 2);
    }
}
