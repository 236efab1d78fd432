package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.reference.AttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.InputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Position biases in the CPU twin (PositionBiasSuite), and T5's bucket function against Hugging
 * Face's own (a fixture written by scripts/t5_bucket_fixture.py from transformers'
 * T5Attention._relative_position_bucket), F32 bucket edges included.
 */
class CpuPositionBiasTest extends PositionBiasSuite {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cpu(), 1L << 30);
    }

    @AfterAll
    static void close() {
        arena.close(); // throws if a case leaked a tensor
    }

    @Override
    Arena arena() {
        return arena;
    }

    @Override
    boolean implementsHeadDim(DType dtype, int headDim) {
        return true;
    }

    @Test
    void bucketsEqualHuggingFace() throws Exception {
        JsonNode root;
        try (InputStream in = CpuPositionBiasTest.class.getResourceAsStream("t5-buckets.json")) {
            root = new ObjectMapper().readTree(in);
        }
        int checked = 0;
        for (JsonNode c : root.get("cases")) {
            int nb = c.get("num_buckets").asInt(), md = c.get("max_distance").asInt();
            boolean bi = c.get("bidirectional").asBoolean();
            JsonNode rps = c.get("relative_positions"), bs = c.get("buckets");
            for (int i = 0; i < rps.size(); i++) {
                long rp = rps.get(i).asLong();
                int want = bs.get(i).asInt();
                String ctx = "buckets " + nb + " max distance " + md + (bi ? " bidirectional" : " causal") + ", rp " + rp;
                assertEquals(want, PositionBias.t5Bucket(rp, bi, nb, md), ctx + " (PositionBias.t5Bucket)");
                assertEquals(want, AttentionReference.t5Bucket(rp, bi, nb, md), ctx + " (oracle)");
                checked++;
            }
        }
        assertTrue(checked > 7000, "fixture too small: " + checked);
    }

}
