package dev.braindrip.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The one registry from model_type to its {@link Architecture}; an unknown type lists the known ones. */
public final class Architectures {
    private static final Map<String, Architecture> BY_TYPE = new LinkedHashMap<>();

    static {
        for (Architecture a : List.of(new Llama(), new Mistral(), new Mixtral(), new Qwen2(), new QwenMoe(false), new Qwen3(),
                new QwenMoe(true), new Gemma2(), new GptOss(), new Phi3Small(), new Gpt2(), new Bert(), new T5(), new Blt(), new DiffTransformer(), new SparseLlama(),
                new ModLlama())) {
            for (String t : a.modelTypes()) BY_TYPE.put(t, a);
        }
    }

    private Architectures() {}

    public static List<String> known() {
        return new ArrayList<>(BY_TYPE.keySet());
    }

    /** The architecture of a model_type; throws IllegalArgumentException listing the known ones. */
    public static Architecture of(String modelType) {
        Architecture a = BY_TYPE.get(modelType);
        if (a == null) {
            throw new IllegalArgumentException("unknown model_type '" + modelType + "' (known: " + String.join(", ", known()) + ")");
        }
        return a;
    }
}
