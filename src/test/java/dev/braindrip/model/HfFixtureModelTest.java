package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.BltReference;
import dev.braindrip.reference.HfReference;
import dev.braindrip.reference.T5Reference;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every Hugging Face fixture, loaded in F32 on the CPU and run with all its rows (lengths 1, 7, 13)
 * as ONE ragged batch: each row's slice of the packed output must match what transformers computed
 * in float64 (expected.safetensors), and the fp64 {@link HfReference} on the same row.
 *
 * <p>Bound: NMSE ≤ 1e-8 per row, against HF and against HfReference. Measured (CPU, F32): 6e-14 –
 * 3.3e-12 over all rows of all fixtures (the largest: mixtral row 2, 1.5e-12 vs HF, 3.3e-12 vs
 * HfReference), i.e. F32 rounding (relative ~1e-6; HF itself does norms, softmax and RoPE angles
 * in float32). 1e-8 leaves over three orders of margin while still catching any semantic slip (a
 * wrong mask, RoPE style, window or norm gives NMSE ≥ 1e-4).
 */
class HfFixtureModelTest {
    static final double MAX_NMSE = 1e-8;

    @Test
    void everyExpectedFixtureExists() {
        List<String> present = Fixtures.all();
        List<String> missing = new ArrayList<>();
        for (String e : Fixtures.EXPECTED) {
            if (!present.contains(e)) {
                missing.add(e);
            }
        }
        assertTrue(missing.isEmpty(), "expected fixtures missing under " + Fixtures.ROOT + ": " + missing);
        List<String> undecided = new ArrayList<>(present);
        undecided.removeAll(Fixtures.EXPECTED);
        undecided.removeAll(Fixtures.OPTIONAL);
        assertTrue(undecided.isEmpty(), "fixtures in neither EXPECTED nor OPTIONAL: " + undecided);
    }

    @TestFactory
    Stream<DynamicTest> raggedBatchMatchesHuggingFace() {
        return Fixtures.all().stream().map(n -> DynamicTest.dynamicTest(n, () -> check(n)));
    }

    private static void check(String name) throws Exception {
        Fixtures.Expected exp = Fixtures.expected(name);
        com.fasterxml.jackson.databind.JsonNode cfg = Fixtures.JSON.readTree(Fixtures.dir(name).resolve("config.json").toFile());
        try (Transformer model = Fixtures.load(name, Device.cpu(), DType.F32)) { // first: an unsupported optional fixture skips
            // the oracle: T5Reference for seq2seq, BltReference for model_type blt, HfReference otherwise
            boolean blt = cfg.path("model_type").asText().equals("blt");
            HfReference ref = exp.seq2seq() || blt ? null : HfReference.of(cfg, Fixtures.weights(Fixtures.dir(name)));
            T5Reference t5 = exp.seq2seq() ? T5Reference.of(cfg, Fixtures.weights(Fixtures.dir(name))) : null;
            BltReference bltRef = blt ? BltReference.of(cfg, Fixtures.weights(Fixtures.dir(name))) : null;
            assertEquals(DType.F32, model.dtype(), name + ": dtype");
            TokenBatch batch = exp.batch();
            assertEquals(exp.rows(), batch.rows());
            float[] got = Fixtures.forward(model, exp);
            List<String> failures = new ArrayList<>();
            StringBuilder report = new StringBuilder();
            int off = 0;
            for (int r = 0; r < exp.rows(); r++) {
                assertEquals(off, batch.offset(r), name + ": offset of row " + r);
                double vsHf = Fixtures.nmse(got, off, exp.cols(), exp.values()[r]);
                double[][] refRows = t5 != null ? t5.logits(exp.sources()[r], exp.tokens()[r])
                        : bltRef != null ? bltRef.logits(exp.tokens()[r]) : ref.forward(exp.tokens()[r]);
                double vsRef = Fixtures.nmse(got, off, exp.cols(), Fixtures.flatten(refRows));
                report.append(String.format("  %s row %d (S=%d, offset %d): NMSE vs HF %.3e, vs HfReference %.3e%n",
                        name, r, exp.tokens()[r].length, off, vsHf, vsRef));
                if (!(vsHf <= MAX_NMSE)) {
                    failures.add(String.format("row %d vs HF NMSE %.3e", r, vsHf));
                }
                if (!(vsRef <= MAX_NMSE)) {
                    failures.add(String.format("row %d vs HfReference NMSE %.3e", r, vsRef));
                }
                off += exp.tokens()[r].length;
            }
            if (exp.seq2seq()) { // the encoder's last hidden state too
                try (Tensor enc = model.encode(exp.sourceBatch())) {
                    float[] h = enc.toFloatArray();
                    int hidden = (int) enc.dim(1), so = 0;
                    for (int r = 0; r < exp.rows(); r++) {
                        double e = Fixtures.nmse(h, so, hidden, exp.encoder()[r]);
                        report.append(String.format("  %s row %d encoder (S=%d): NMSE vs HF %.3e%n", name, r, exp.sources()[r].length, e));
                        if (!(e <= MAX_NMSE)) failures.add(String.format("row %d encoder vs HF NMSE %.3e", r, e));
                        so += exp.sources()[r].length;
                    }
                }
            }
            System.out.print(report);
            if (!failures.isEmpty()) {
                fail(name + " (bound " + MAX_NMSE + "): " + String.join(", ", failures) + "\n" + report);
            }
        }
    }
}
