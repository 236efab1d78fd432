package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.ops.SampleBatch.RowParams;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link SampleSuite} on CUDA device 0, and the CUDA kernel against its CPU twin on random batches
 * (normal logits, every rule with arbitrary thresholds, random histories): the same ids, processed
 * logits and top ids bit for bit (the two run the same exact selection and draw), logprobs within
 * F32 rounding. Without a usable GPU it is skipped with the probe's reason.
 */
@GpuTest
class CudaSampleTest extends SampleSuite {
    @Override
    Device device() {
        return Device.cuda(0);
    }

    static Stream<Arguments> twinCases() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) for (int v : new int[] {1, 7, 4099, 50_000, 151_936}) out.add(Arguments.of(dt, v));
        return out.stream();
    }

    @ParameterizedTest(name = "cuda = cpu {0} V={1}")
    @MethodSource("twinCases")
    void cudaMatchesTheCpuTwin(DType dt, int v) {
        String ctx = "sample cuda vs cpu " + dt + " V=" + v;
        Inputs in = new Inputs(Seeds.forCase(ctx));
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 40; r++) {
            RowParams.Builder p = params(in).temperature(r % 8 == 0 ? 0 : 0.2f + in.nextInt(12) / 8f).logprobs(in.nextInt(6));
            if (r % 3 == 0) p.topK(1 + in.nextInt(Math.max(1, Math.min(v, 300))));
            if (r % 4 == 1) p.topP(0.05f + in.nextInt(95) / 100f);
            if (r % 5 == 2) p.minP(in.nextInt(30) / 100f);
            if (r % 2 == 1) p.repetitionPenalty(0.7f + in.nextInt(8) / 10f).presencePenalty(in.nextInt(5) / 4f - 0.5f).frequencyPenalty(0.3f);
            rows.add(row(in, in.normal(v, 0, 1 + in.nextInt(4)), p.build(), in.nextInt(50), in.nextInt(50)));
        }
        try (Arena gpu = newArena(); Arena cpu = Arena.on(Device.cpu(), 2L << 30)) {
            Run g = run(gpu, dt, rows), c = run(cpu, dt, rows);
            assertArrayEquals(c.ids(), g.ids(), ctx + ": ids " + Seeds.tag());
            for (int r = 0; r < rows.size(); r++) {
                String where = ctx + " row " + r + " " + rows.get(r).params();
                assertArrayEquals(c.processed()[r], g.processed()[r], where + ": processed " + Seeds.tag());
                assertArrayEquals(c.topIds()[r], g.topIds()[r], where + ": top ids " + Seeds.tag());
                assertEquals(c.logprobs()[r], g.logprobs()[r], 1e-5f * Math.max(1, -c.logprobs()[r]), where + ": logprob " + Seeds.tag());
                for (int j = 0; j < c.topLogprobs()[r].length; j++) {
                    float a = c.topLogprobs()[r][j], b = g.topLogprobs()[r][j];
                    if (a == b) continue;
                    if (!(Math.abs(a - b) <= 1e-5f * Math.max(1, -a))) fail(where + ": top logprob " + j + " cpu " + a + " cuda " + b + " " + Seeds.tag());
                }
            }
        }
    }
}
