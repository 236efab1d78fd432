package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** MoeConfig: defaults, and one rejected case per rule with the field and the rule in the message. */
class MoeConfigTest {
    static void rejects(String expected, Supplier<MoeConfig> build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::get);
        assertTrue(e.getMessage().startsWith("MoeConfig: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should contain '" + expected + "'");
    }

    static MoeConfig.Builder base() {
        return MoeConfig.builder().experts(8).topK(2);
    }

    @Test
    void defaults() {
        MoeConfig c = base().build();
        assertEquals(Routing.SOFTMAX_TOPK, c.routing());
        assertEquals(1, c.groups());
        assertEquals(1, c.topkGroups());
        assertEquals(1f, c.capacityFactor());
        assertEquals(1f, c.scaling());
        assertEquals(ExpertActivation.SWIGLU, c.activation());
        assertEquals(GateUpLayout.SEPARATE, c.gateUpLayout());
        assertEquals(ExpertPath.AUTO, c.path());
        assertEquals(c, c.toBuilder().build());
    }

    @Test
    void everyRuleNamesItsField() {
        rejects("experts must be set", () -> MoeConfig.builder().topK(1).build());
        rejects("topK must be set", () -> MoeConfig.builder().experts(4).build());
        rejects("experts (0) must be in [1, 1024]", () -> base().experts(0).topK(1).build());
        rejects("experts (1025) must be in [1, 1024]", () -> base().experts(1025).build());
        rejects("topK (0) must be >= 1", () -> base().topK(0).build());
        rejects("topK (9) must be <= experts (8)", () -> base().topK(9).build());
        rejects("groups (3) must divide experts (8)", () -> base().routing(Routing.SIGMOID_GROUPED).groups(3).build());
        rejects("groups (4) > 1 needs routing SIGMOID_GROUPED, got SOFTMAX_TOPK", () -> base().groups(4).build());
        rejects("experts / groups (8 / 8) must be >= 2", () -> base().routing(Routing.SIGMOID_GROUPED).groups(8).build());
        rejects("topkGroups (5) must be <= groups (4)", () -> base().routing(Routing.SIGMOID_GROUPED).groups(4).topkGroups(5).build());
        rejects("topkGroups (2) must be <= groups (1)", () -> base().topkGroups(2).build());
        rejects("topkGroups (0) must be >= 1", () -> base().routing(Routing.SIGMOID_GROUPED).groups(4).topkGroups(0).build());
        rejects("topK (5) must be <= topkGroups * experts / groups (2 * 8 / 4 = 4)",
                () -> base().topK(5).routing(Routing.SIGMOID_GROUPED).groups(4).topkGroups(2).build());
        rejects("capacityFactor (0.0) must be > 0", () -> base().capacityFactor(0).build());
        rejects("capacityFactor (NaN) must be > 0", () -> base().capacityFactor(Float.NaN).build());
        rejects("topK (2) must be 1 for routing TOP1_CAPACITY", () -> base().routing(Routing.TOP1_CAPACITY).build());
        rejects("scaling (Infinity) must be finite", () -> base().scaling(Float.POSITIVE_INFINITY).build());
        rejects("activation must be set", () -> base().activation(null).build());
    }

    @Test
    void namesParseBothWays() {
        for (Routing r : Routing.values()) assertEquals(r, Routing.parse(r.cliName()));
        for (ExpertActivation a : ExpertActivation.values()) assertEquals(a, ExpertActivation.parse(a.cliName()));
        assertEquals(ExpertActivation.GPTOSS_CLAMPED, ExpertActivation.parse("gptoss-clamped"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Routing.parse("topk"));
        assertTrue(e.getMessage().contains("softmax_topk"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ExpertActivation.parse("relu"));
    }
}
