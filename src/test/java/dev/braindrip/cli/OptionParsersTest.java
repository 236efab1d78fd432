package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Session;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The option parsers and the sampling mixin that braindrip generate, bench soak and the Spark job share. */
class OptionParsersTest {
    @Test
    void bytesTakeBinarySuffixesAndNameTheOption() {
        assertEquals(1000000L, OptionParsers.bytes("--kv-budget", "1000000"));
        assertEquals(512L << 20, OptionParsers.bytes("--kv-budget", "512M"));
        assertEquals(512L << 20, OptionParsers.bytes("--kv-budget", " 512mb "));
        assertEquals(2L << 30, OptionParsers.bytes("--kv-budget", "2G"));
        assertEquals(3L << 29, OptionParsers.bytes("--kv-budget", "1.5G"));
        assertEquals(1L << 40, OptionParsers.bytes("--kv-budget", "1T"));
        assertEquals(4L << 10, OptionParsers.bytes("--kv-budget", "4KB"));
        for (String bad : List.of("", "G", "0", "-1M", "lots", "2X")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OptionParsers.bytes("--kv-budget", bad), bad);
            assertEquals("usage: --kv-budget takes a size in bytes such as 2G, 512M or 1000000, got '" + bad + "'", e.getMessage());
        }
    }

    @Test
    void streamingTakesSinksAndWindow() {
        assertEquals(new Session.Streaming(4, 1020), OptionParsers.streaming("--streaming", "4,1020"));
        assertEquals(new Session.Streaming(0, 8), OptionParsers.streaming("--streaming", " 0 , 8 "));
        assertNull(OptionParsers.streaming("--streaming", null));
        assertEquals("usage: --streaming takes SINKS,WINDOW (two integers, e.g. 4,1020), got '4'",
                assertThrows(IllegalArgumentException.class, () -> OptionParsers.streaming("--streaming", "4")).getMessage());
        assertEquals("usage: --streaming takes SINKS,WINDOW (two integers, e.g. 4,1020), got 'a,b'",
                assertThrows(IllegalArgumentException.class, () -> OptionParsers.streaming("--streaming", "a,b")).getMessage());
        assertEquals("usage: --streaming: window (0) must be >= 1",
                assertThrows(IllegalArgumentException.class, () -> OptionParsers.streaming("--streaming", "4,0")).getMessage());
    }

    @Command(name = "t")
    static final class WithSampling {
        @Mixin
        SamplingOptions sampling;
    }

    static SamplingParams parse(String... args) {
        WithSampling w = new WithSampling();
        new CommandLine(w).parseArgs(args);
        return w.sampling.params();
    }

    @Test
    void samplingOptionsHaveGeneratesDefaultsAndCheckWithTheOptionName() {
        assertEquals(SamplingParams.defaults(), parse(), "CLI.md's defaults: max_tokens 128, temperature 1, the rest off");
        SamplingParams p = parse("--max-tokens", "7", "--temperature", "0", "--top-k", "5", "--top-p", "0.9", "--min-p", "0.1",
                "--repetition-penalty", "1.2", "--presence-penalty", "0.5", "--frequency-penalty", "-0.5", "--stop", "a", "--stop", "bc",
                "--ignore-eos", "--logprobs", "3");
        assertEquals(SamplingParams.builder().maxTokens(7).temperature(0).topK(5).topP(0.9f).minP(0.1f).repetitionPenalty(1.2f)
                .presencePenalty(0.5f).frequencyPenalty(-0.5f).stop("a", "bc").ignoreEos(true).logprobs(3).build(), p);
        assertEquals("usage: --top-p must be in (0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> parse("--top-p", "1.5")).getMessage());
        assertEquals("usage: --max-tokens must be at least 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> parse("--max-tokens", "0")).getMessage());
    }
}
