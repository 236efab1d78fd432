package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Device;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The fused attention kernel of the CPU backend against the oracle (AttentionHarness). */
class CpuAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cpu(), 1L << 30);
    }

    @AfterAll
    static void close() {
        arena.close(); // throws if a case leaked a tensor
    }

    static List<AttentionCase> cases() {
        return AttentionHarness.standardCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(AttentionCase c) {
        AttentionHarness.check(arena, c);
    }
}
