package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * KV-cached decoding equals recomputation: a {@link Session} over 3 sequences (prompts of 1, 5
 * and 9 tokens, then 6 decode steps) gives, at every step and for every sequence, the logits of
 * the last position of a full forward over that sequence's prompt plus the tokens given so far.
 * mistral, gemma2 and gpt_oss (sliding layers with learned sinks) have sliding window 4: prompts
 * of 5 and 9 and steps up to position 14 run well past it. Bound NMSE ≤ 1e-9 (F32): the same arithmetic up to summation order (measured:
 * prefill equals forward exactly, steps 5e-14 – 1.3e-12).
 */
class IncrementalTest {
    static final double MAX_NMSE = 1e-9;
    static final int[] PROMPT_LENGTHS = {1, 5, 9};
    static final int STEPS = 6;
    static final List<String> MODELS = List.of("llama", "mistral", "qwen2_moe", "gemma2", "gpt2", "gpt_oss");

    @TestFactory
    Stream<DynamicTest> decodeStepsEqualFullForward() {
        return MODELS.stream().map(n -> DynamicTest.dynamicTest(n, () -> check(n)));
    }

    private static void check(String name) throws Exception {
        try (Transformer model = Fixtures.load(name, Device.cpu(), DType.F32)) {
            int vocab = model.config().vocabSize();
            Random rnd = new Random(name.hashCode());
            int batch = PROMPT_LENGTHS.length;
            int capacity = Arrays.stream(PROMPT_LENGTHS).max().getAsInt() + STEPS;
            List<List<Integer>> seqs = new ArrayList<>();
            int[][] prompts = new int[batch][];
            for (int b = 0; b < batch; b++) {
                prompts[b] = rnd.ints(PROMPT_LENGTHS[b], 0, vocab).toArray();
                List<Integer> s = new ArrayList<>();
                for (int t : prompts[b]) {
                    s.add(t);
                }
                seqs.add(s);
            }
            List<String> failures = new ArrayList<>();
            StringBuilder report = new StringBuilder();
            try (Session session = model.session(batch, capacity)) {
                TokenBatch pb = TokenBatch.of(prompts);
                float[] full = Fixtures.forward(model, pb, vocab);
                float[] pre;
                try (Tensor t = session.prefill(pb)) {
                    assertEquals(List.of((long) pb.totalTokens(), (long) vocab), List.of(t.dim(0), t.dim(1)),
                            name + ": prefill shape " + Arrays.toString(t.shape()));
                    pre = t.toFloatArray();
                }
                double e = Fixtures.nmse(pre, 0, full, 0, full.length);
                report.append(String.format("  %s prefill vs forward: NMSE %.3e%n", name, e));
                if (!(e <= MAX_NMSE)) {
                    failures.add(String.format("prefill NMSE %.3e", e));
                }
                for (int k = 0; k < STEPS; k++) {
                    int[] next = rnd.ints(batch, 0, vocab).toArray();
                    float[] got;
                    try (Tensor t = session.step(next)) {
                        assertEquals(List.of((long) batch, (long) vocab), List.of(t.dim(0), t.dim(1)),
                                name + ": step shape " + Arrays.toString(t.shape()));
                        got = t.toFloatArray();
                    }
                    int[][] rows = new int[batch][];
                    for (int b = 0; b < batch; b++) {
                        seqs.get(b).add(next[b]);
                        rows[b] = seqs.get(b).stream().mapToInt(Integer::intValue).toArray();
                    }
                    TokenBatch fb = TokenBatch.of(rows);
                    float[] want = Fixtures.forward(model, fb, vocab);
                    StringBuilder line = new StringBuilder(String.format("  %s step %d:", name, k));
                    for (int b = 0; b < batch; b++) {
                        int last = fb.offset(b) + fb.length(b) - 1;
                        double d = Fixtures.nmse(got, b * vocab, want, last * vocab, vocab);
                        line.append(String.format(" seq %d (pos %d) %.3e", b, rows[b].length - 1, d));
                        if (!(d <= MAX_NMSE)) {
                            failures.add(String.format("step %d seq %d (position %d) NMSE %.3e", k, b, rows[b].length - 1, d));
                        }
                    }
                    report.append(line).append('\n');
                }
            }
            System.out.print(report);
            if (!failures.isEmpty()) {
                fail(name + " (bound " + MAX_NMSE + "): " + String.join(", ", failures) + "\n" + report);
            }
        }
    }

    /** Misuse is an exception naming the problem, never a crash or silent garbage. */
    @Test
    void sessionMisuseThrows() throws Exception {
        try (Transformer model = Fixtures.load("llama", Device.cpu(), DType.F32)) {
            int vocab = model.config().vocabSize();
            try (Session s = model.session(2, 4)) {
                assertThrows(IllegalArgumentException.class, () -> s.prefill(TokenBatch.of(new int[] {1, 2})),
                        "prefill with 1 prompt for a batch of 2");
            }
            try (Session s = model.session(1, 4)) {
                RuntimeException e = assertThrows(RuntimeException.class, () -> s.prefill(TokenBatch.of(new int[] {1, 2, 3, 4, 5})),
                        "prompt of 5 tokens into capacity 4");
                System.out.println("  prompt over capacity: " + e);
            }
            try (Session s = model.session(2, 3)) {
                s.prefill(TokenBatch.of(new int[] {1, 2}, new int[] {3})).close();
                assertThrows(IllegalArgumentException.class, () -> s.step(new int[] {1, 2, 3}), "step with 3 tokens for 2 slots");
                assertThrows(IllegalArgumentException.class, () -> s.step(new int[0]), "step with no token");
                IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> s.step(new int[] {1, vocab + 5}),
                        "token id out of range in step");
                assertTrue(bad.getMessage().contains(String.valueOf(vocab + 5)), bad.getMessage());
                s.step(new int[] {4, 5}).close(); // sequence 0 is now full (3 tokens)
                RuntimeException full = assertThrows(RuntimeException.class, () -> s.step(new int[] {6, 7}),
                        "step past capacity 3");
                System.out.println("  step past capacity: " + full);
            }
        }
    }
}
