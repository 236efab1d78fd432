package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.model.OwnArchitecturesTest.Ckpt;
import dev.braindrip.reference.HfReference;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KV-cached decoding of the library's own architectures equals recomputation: a {@link Session}
 * over 3 sequences with prompts of different lengths, then several steps; every step's logits
 * (batch, V) equal, per sequence, the last row of a full forward over prompt + tokens so far (NMSE
 * ≤ 1e-9, both F32), the prefill equals the forward, and the last step equals the fp64 oracle
 * (NMSE ≤ 1e-8). The sink model steps well past its window (16 + 4 sinks), the sparse one past
 * the 64- and 128-token block boundaries (at 128 query block 2 stops seeing block 0), the
 * Mixture-of-Depths one has thresholds calibrated on the full sequences so that steps both pass
 * and skip the routed layers.
 */
class OwnIncrementalTest {
    static final double MAX_NMSE = 1e-9;

    @TempDir
    Path tmp;

    @Test
    void sinkTokensPastTheWindow() throws Exception {
        check("mistral W16 +4 sinks", OwnArchitecturesTest.random(OwnArchitecturesTest.sinkConfig(), 111), new int[] {10, 18, 3}, 14, false);
    }

    @Test
    void sparsePastBlockBoundaries() throws Exception {
        check("sparse_llama local:2,vstride:4", OwnArchitecturesTest.random(OwnArchitecturesTest.sparseConfig("local:2,vstride:4", 4, 2), 121),
                new int[] {120, 60, 3}, 10, false);
    }

    @Test
    void sparseHeadVerticalStride() throws Exception {
        check("sparse_llama sink:1,local:1,hvstride:8", OwnArchitecturesTest.random(OwnArchitecturesTest.sparseConfig("sink:1,local:1,hvstride:8", 2, 0), 122),
                new int[] {125, 62, 1}, 6, false);
    }

    @Test
    void diffTransformer() throws Exception {
        check("diff_transformer", OwnArchitecturesTest.random(OwnArchitecturesTest.diffConfig(), 131), new int[] {1, 5, 9}, 8, false);
    }

    @Test
    void mixtureOfDepths() throws Exception {
        check("mod_llama", OwnArchitecturesTest.random(OwnArchitecturesTest.modConfig(), 141), new int[] {1, 7, 12}, 10, true);
    }

    private void check(String name, Ckpt k, int[] promptLengths, int steps, boolean calibrate) throws Exception {
        int vocab = k.cfg.get("vocab_size").asInt();
        int batch = promptLengths.length;
        int[] full = new int[batch];
        for (int b = 0; b < batch; b++) {
            full[b] = promptLengths[b] + steps;
        }
        int[][] seqs = OwnArchitecturesTest.randomRows(name.hashCode(), vocab, full);
        if (calibrate) {
            System.out.println("  " + name + " routing: " + OwnArchitecturesTest.calibrateThresholds(k, seqs));
        }
        List<String> failures = new ArrayList<>();
        double worst = 0;
        int capacity = Arrays.stream(full).max().getAsInt();
        try (Transformer model = k.load(tmp.resolve("m")); Session session = model.session(batch, capacity)) {
            int[][] prompts = new int[batch][];
            for (int b = 0; b < batch; b++) {
                prompts[b] = Arrays.copyOf(seqs[b], promptLengths[b]);
            }
            TokenBatch pb = TokenBatch.of(prompts);
            float[] fwd = Fixtures.forward(model, pb, vocab);
            float[] pre;
            try (Tensor t = session.prefill(pb)) {
                assertEquals(List.of((long) pb.totalTokens(), (long) vocab), List.of(t.dim(0), t.dim(1)), name + ": prefill shape");
                pre = t.toFloatArray();
            }
            double e0 = Fixtures.nmse(pre, 0, fwd, 0, fwd.length);
            System.out.printf("  %s prefill vs forward: NMSE %.3e%n", name, e0);
            if (!(e0 <= MAX_NMSE)) {
                failures.add(String.format("prefill NMSE %.3e", e0));
            }
            float[] last = null;
            for (int s = 0; s < steps; s++) {
                int[] next = new int[batch];
                int[][] rows = new int[batch][];
                for (int b = 0; b < batch; b++) {
                    next[b] = seqs[b][promptLengths[b] + s];
                    rows[b] = Arrays.copyOf(seqs[b], promptLengths[b] + s + 1);
                }
                float[] got;
                try (Tensor t = session.step(next)) {
                    assertEquals(List.of((long) batch, (long) vocab), List.of(t.dim(0), t.dim(1)), name + ": step shape");
                    got = t.toFloatArray();
                }
                TokenBatch tb = TokenBatch.of(rows);
                float[] want = Fixtures.forward(model, tb, vocab);
                StringBuilder line = new StringBuilder();
                for (int b = 0; b < batch; b++) {
                    int lastRow = tb.offset(b) + tb.length(b) - 1;
                    double e = Fixtures.nmse(got, b * vocab, want, lastRow * vocab, vocab);
                    worst = Math.max(worst, e);
                    line.append(String.format(" seq %d pos %d: %.2e", b, rows[b].length - 1, e));
                    if (!(e <= MAX_NMSE)) {
                        failures.add(String.format("step %d seq %d (position %d): NMSE %.3e", s, b, rows[b].length - 1, e));
                    }
                }
                System.out.printf("  %s step %d:%s%n", name, s, line);
                last = got;
            }
            HfReference ref = k.reference();
            for (int b = 0; b < batch; b++) {
                double[][] r = ref.forward(seqs[b]);
                double e = OwnArchitecturesTest.nmse(last, b * vocab, r[r.length - 1]);
                System.out.printf("  %s last step seq %d vs HfReference: NMSE %.3e%n", name, b, e);
                if (!(e <= OwnArchitecturesTest.MAX_NMSE)) {
                    failures.add(String.format("last step seq %d vs HfReference: NMSE %.3e", b, e));
                }
            }
        }
        System.out.printf("  %s: worst step NMSE %.3e%n", name, worst);
        if (!failures.isEmpty()) {
            fail(name + ": " + String.join("; ", failures));
        }
    }
}
