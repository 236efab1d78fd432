package dev.braindrip.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

/** The job's settings: device choice from Spark's GPU addresses, checks, defaults, and the trip to the executors. */
class GenerateSpecTest {
    @Test
    void theTaskGpuAddressPicksTheCudaDeviceElseTheCpu() {
        GenerateSpec s = GenerateSpec.builder().model("demo").build();
        assertEquals(Device.cuda(3), s.device(new String[] {"3", "5"}), "the first address Spark assigned");
        assertEquals(Device.cpu(), s.device(null), "no GPU resource: the CPU");
        assertEquals(Device.cpu(), s.device(new String[0]));
        assertEquals(DType.BF16, s.dtype(Device.cuda(0)));
        assertEquals(DType.F32, s.dtype(Device.cpu()));
        assertEquals(Device.cpu(), GenerateSpec.builder().model("demo").device("cpu").build().device(new String[] {"0"}), "an explicit device wins");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.device(new String[] {"GPU-1f2e"}));
        assertTrue(e.getMessage().contains("not a CUDA device index"), e.getMessage());
    }

    @Test
    void checksAtBuildWithTheCliFieldNames() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> GenerateSpec.builder().model("demo").topP(1.5f).build()).getMessage()
                .startsWith("top_p must be in (0, 1]"));
        assertThrows(IllegalArgumentException.class, () -> GenerateSpec.builder().build());
        assertThrows(IllegalArgumentException.class, () -> GenerateSpec.builder().model("demo").batchSize(0).build());
        assertThrows(IllegalArgumentException.class, () -> GenerateSpec.builder().model("demo").device("tpu").build());
        GenerateSpec d = GenerateSpec.builder().model("demo").build();
        assertEquals(128, d.samplingDefaults().maxTokens(), "braindrip generate's defaults");
        assertEquals(64, d.generatorOptions().maxBatch());
    }

    @Test
    void survivesJavaSerialization() throws Exception {
        GenerateSpec s = GenerateSpec.builder().model("m", true).temperature(0.5f).stop(java.util.List.of("\n")).failOnce(1, 2).build();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(buf)) {
            o.writeObject(s);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(buf.toByteArray()))) {
            GenerateSpec t = (GenerateSpec) in.readObject();
            assertEquals(s, t);
            assertEquals(java.util.List.of("\n"), t.samplingDefaults().stop());
        }
    }

    @Test
    void badUsageExitsTwoWithOneLine() throws Exception {
        BatchGenerateTest.Captured r = BatchGenerateTest.capture(() -> BatchGenerate.run("--model", "demo", "--input", "x.jsonl", "--output", "o", "--top-p", "2"));
        assertEquals(2, r.code());
        assertEquals("braindrip-spark: usage: --top-p must be in (0, 1], got 2.0", r.err().strip(), "the option's name, as braindrip generate says it");
        r = BatchGenerateTest.capture(() -> BatchGenerate.run("--model", "demo", "--input", "x.jsonl", "--output", "o", "--output-format", "csv"));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("format must be jsonl or parquet, got 'csv'"), r.err());
        r = BatchGenerateTest.capture(() -> BatchGenerate.run("--model", "/nonexistent/model", "--input", "x.jsonl", "--output", "o", "--master", "local[1]"));
        assertEquals(2, r.code());
        assertEquals("braindrip-spark: usage: --model /nonexistent/model: model directory not found", r.err().strip());
        r = BatchGenerateTest.capture(() -> BatchGenerate.run("--input", "x.jsonl"));
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("braindrip-spark: Missing required options"), r.err());
    }
}
