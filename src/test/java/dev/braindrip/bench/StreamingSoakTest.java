package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.Session;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The soak runs past sinks + window with its samples at the asked intervals and the KV cache and arena flat (not a timing test). */
class StreamingSoakTest {
    @TempDir
    Path tmp;

    @Test
    void samplesAtIntervalsWithFlatMemory() throws Exception {
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 2, tmp);
        try (Transformer m = Transformer.load(tmp, Device.cpu(), DType.F32)) {
            List<StreamingSoak.Sample> s = StreamingSoak.run(m, new Session.Streaming(2, 30), 600, 150, null);
            assertEquals(4, s.size());
            for (int i = 0; i < 4; i++) assertEquals(150L * (i + 1), s.get(i).tokens());
            for (StreamingSoak.Sample x : s) {
                assertEquals(s.get(0).cacheBytes(), x.cacheBytes(), "the cache is fixed at sinks + window");
                assertEquals(s.get(0).arenaAllocated(), x.arenaAllocated(), "decode allocates nothing new per step");
                assertTrue(x.tokensPerSecond() > 0);
            }
            assertThrows(IllegalArgumentException.class, () -> StreamingSoak.run(m, new Session.Streaming(2, 30), 10, 0, null));
        }
    }
}
