package dev.braindrip.io.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The one door to the Hugging Face tokenizers library (DJL's JNI binding of the Rust crate). Before
 * its classes load, the binding is kept off the network: DJL would otherwise, on a machine with a
 * CUDA GPU, pick a CUDA build of the native library and download it ({@code RUST_FLAVOR=cpu} takes
 * the CPU library bundled in the jar, which is the same tokenizer), and would ask the EC2 metadata
 * address for telemetry ({@code ai.djl.offline} and {@code OPT_OUT_TRACKING} turn that off). A value
 * already set as a system property or an environment variable is left alone. The native library is
 * extracted once to DJL's cache ({@code ~/.djl.ai/tokenizers/}, or {@code DJL_CACHE_DIR} /
 * {@code ENGINE_CACHE_DIR}; the temporary directory when the home is not writable) and loaded from
 * there. SLF4J has the no-op binding, so loading prints nothing.
 */
final class NativeTokenizers {
    static {
        keepOffline();
    }

    private NativeTokenizers() {}

    static void keepOffline() {
        setIfUnset("ai.djl.offline", "DJL_OFFLINE", "true");
        setIfUnset("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
        setIfUnset("RUST_FLAVOR", "RUST_FLAVOR", "cpu");
    }

    private static void setIfUnset(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) System.setProperty(property, value);
    }

    /** A tokenizer built from tokenizer.json text, encoding without truncation and padding. */
    static HuggingFaceTokenizer fromJson(String json) throws IOException {
        return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true",
                        "modelMaxLength", String.valueOf(Integer.MAX_VALUE)));
    }
}
