package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.testing.SafeTensorsFile;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The embedded BLT demo ({@code --model demo-blt}) against the logits its own training script
 * computed for fixed inputs from the same BF16 weights (scripts/train_blt_demo.py --fixture: a second,
 * independent implementation): patch lengths exactly, logits to F32 rounding; and it generates text.
 */
class DemoBltTest {
    /**
     * The demo's weights must be in the build, except on the GPU machine, whose copy of the tree may
     * leave them out to fit the transfer (scripts/device-bundle.sh; gpu-check.sh sets the property).
     */
    @org.junit.jupiter.api.BeforeEach
    void weightsPresent() {
        boolean optional = Boolean.getBoolean("braindrip.demoBltOptional");
        if (optional) org.junit.jupiter.api.Assumptions.assumeTrue(DemoModel.available(DemoModel.BLT_NAME)
                && DemoModel.class.getResource(DemoModel.BLT_RESOURCE_DIR + "model.safetensors") != null, "the demo-blt weights are not in this copy");
    }

    static final Path FIXTURE = Path.of("src/test/resources/dev/braindrip/demo-blt/script-logits.safetensors");

    @Test
    void matchesTheTrainingScriptsLogits() throws Exception {
        SafeTensorsFile f = new SafeTensorsFile(FIXTURE);
        try (Transformer m = Transformer.load(DemoModel.BLT_NAME, Device.cpu(), DType.F32)) {
            assertEquals("blt", m.config().architecture());
            int v = m.config().vocabSize();
            for (int r = 0; r < 4; r++) {
                double[] t = f.get("row" + r + ".ids");
                int[] ids = new int[t.length];
                for (int i = 0; i < t.length; i++) ids[i] = (int) t[i];
                double[] pl = f.get("row" + r + ".patch_lengths");
                int[] want = new int[pl.length];
                for (int i = 0; i < pl.length; i++) want[i] = (int) pl[i];
                assertArrayEquals(want, m.patchLengths(ids), "row " + r + " patch lengths");
                float[] got;
                try (Tensor y = m.forward(TokenBatch.of(ids))) {
                    got = y.toFloatArray();
                }
                double[] lg = f.get("row" + r + ".logits");
                double num = 0, den = 0;
                for (int i = 0; i < lg.length; i++) {
                    num += (got[i] - lg[i]) * (got[i] - lg[i]);
                    den += lg[i] * lg[i];
                }
                assertEquals(ids.length * v, lg.length);
                System.out.printf("  demo-blt row %d (S=%d, %d patches): logits NMSE %.3e vs the training script%n", r, ids.length, want.length, num / den);
                assertTrue(num / den <= 1e-9, "row " + r + ": NMSE " + num / den);
            }
        }
    }

    @Test
    void writesText() throws Exception {
        try (Transformer m = Transformer.load(DemoModel.BLT_NAME, Device.cpu(), null); Generator g = Generator.of(m)) {
            Completion c = g.generate(dev.braindrip.generate.Prompt.text("And God said,"), SamplingParams.greedy(48));
            System.out.println("  demo-blt greedy: " + c.text());
            assertTrue(c.tokens().length > 0 && c.tokens().length <= 48, "generated " + c.tokens().length + " bytes");
            long letters = c.text().chars().filter(Character::isLetter).count();
            assertTrue(letters > c.text().length() / 2, "a trained byte model writes mostly letters: '" + c.text() + "'");
        }
    }
}
