package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad shapes and dtypes throw IllegalArgumentException naming the op and the mismatch; nothing leaks. */
abstract class MoeErrorPathCases {
    abstract Device device();

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 64L << 20);
    }

    @AfterEach
    void close() {
        arena.releaseAll(); // the fixtures' weights and the inputs made here; leaks of the calls under test are caught in rejects
        arena.close();
    }

    /** The call throws IllegalArgumentException with {@code expected} in its message and leaves no new tensor alive. */
    void rejects(String expected, Executable call) {
        int live = arena.liveTensors();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should contain '" + expected + "'");
        assertEquals(live, arena.liveTensors(), "tensors leaked by the failed call: " + expected);
    }

    static final MoeConfig C = MoeConfig.builder().experts(4).topK(2).build();

    MoeFixture fixture(MoeConfig c, DType dt) {
        return new MoeFixture(arena, dt, c, 8, 6, 1).build(MoeFixture.Extras.NONE);
    }

    @Test
    void layerWeights() {
        MoeWeights w = fixture(C, DType.F32).weights;
        Tensor badUp = arena.zeros(DType.F32, 4, 6, 7);
        rejects("moe: w_up must have shape [4, 6, 8] (E, F, H), got [4, 6, 7]", () -> new MoeLayer(arena, C,
                new MoeWeights(w.router(), null, w.wGate(), badUp, null, null, w.wDown(), null, null)));
        rejects("moe: router has 4 rows, expected experts (5)", () -> new MoeLayer(arena, MoeConfig.builder().experts(5).topK(2).build(), w));
        Tensor bf16Down = arena.zeros(DType.BF16, 4, 8, 6);
        rejects("moe: w_down is BF16, expected F32 like router",
                () -> new MoeLayer(arena, C, new MoeWeights(w.router(), null, w.wGate(), w.wUp(), null, null, bf16Down, null, null)));
        Tensor bias = arena.zeros(DType.F32, 4);
        rejects("moe: router_bias is not used by routing SOFTMAX_TOPK", () -> new MoeLayer(arena, C, w.withRouterBias(bias)));
        MoeConfig topkSoftmax = C.toBuilder().routing(Routing.TOPK_SOFTMAX).build();
        Tensor bf16Bias = arena.zeros(DType.BF16, 4);
        rejects("moe: router_bias is BF16, expected F32", () -> new MoeLayer(arena, topkSoftmax, w.withRouterBias(bf16Bias)));
        Tensor shortBias = arena.zeros(DType.F32, 3);
        rejects("moe: router_bias must have shape [4] (E), got [3]", () -> new MoeLayer(arena, topkSoftmax, w.withRouterBias(shortBias)));
        MoeConfig fused = C.toBuilder().gateUpLayout(GateUpLayout.INTERLEAVED).build();
        rejects("moe: w_gate must have shape [4, 12, 8] (E, 2F, H), got [4, 6, 8]", () -> new MoeLayer(arena, fused, w));
        Tensor sDown = arena.zeros(DType.F32, 8, 5);
        Tensor sGate = arena.zeros(DType.F32, 4, 8);
        rejects("moe: s_down must have shape [8, 4] (H, Fs), got [8, 5]",
                () -> new MoeLayer(arena, C, w.withShared(new SharedExpert(sGate, sGate, sDown, null))));
    }

    @Test
    void layerInput() {
        MoeLayer layer = new MoeLayer(arena, C, fixture(C, DType.F32).weights);
        Tensor wide = arena.zeros(DType.F32, 3, 9);
        rejects("moe: x has hidden size 9, expected 8", () -> layer.forward(wide));
        Tensor bf16 = arena.zeros(DType.BF16, 3, 8);
        rejects("moe: x is BF16, expected F32", () -> layer.forward(bf16));
        Tensor flat = arena.zeros(DType.F32, 8);
        rejects("moe: x must be (T, H), got shape [8]", () -> layer.forward(flat));
    }

    @Test
    void stages() {
        MoeRouter router = new MoeRouter(arena, C);
        Tensor logits = arena.zeros(DType.F32, 3, 5);
        rejects("moe_route: logits have 5 columns, expected experts (4)", () -> router.route(logits, null));
        Tensor intLogits = arena.zeros(DType.I32, 3, 4);
        rejects("moe_route: logits is I32, expected F32, F16 or BF16", () -> router.route(intLogits, null));
        MoeDispatch d = new MoeDispatch(arena);
        Tensor floatIds = arena.zeros(DType.F32, 3, 2);
        rejects("moe_align: topk_ids is F32, expected I32", () -> d.align(floatIds, 4));
        Tensor ids = arena.fromInts(new int[] {0, 1, 2, 3, 1, 0}, 3, 2);
        // the kernel's own check, passed through with the op's name: block_m above 1024
        rejects("moe_align: block_m (2000) must be in [1, 1024]", () -> d.align(ids, 4, 2000));
        ExpertGemms g = new ExpertGemms(arena, C, fixture(C, DType.F32).weights);
        Tensor weights = arena.zeros(DType.F32, 3, 3);
        Tensor act = arena.zeros(DType.F32, 6, 6);
        rejects("moe_down_decode: topk_weights must have shape [3, 2] (T, k), got [3, 3]", () -> g.downDecode(act, ids, weights));
        Tensor shortX = arena.zeros(DType.F32, 3, 7);
        rejects("moe_gate_up_decode: x must have shape [3, 8] (T, H), got [3, 7]", () -> g.gateUpDecode(shortX, ids));
    }

    @Test
    void mixtureOfDepths() {
        Tensor router = arena.zeros(DType.F32, 1, 8);
        rejects("mod: capacity (0.0) must be in (0, 1]", () -> new MixtureOfDepths(arena, router, 0));
        rejects("mod: capacity (1.5) must be in (0, 1]", () -> new MixtureOfDepths(arena, router, 1.5));
        Tensor wideRouter = arena.zeros(DType.F32, 2, 8);
        rejects("mod: router must be (1, H) or (H), got shape [2, 8]", () -> new MixtureOfDepths(arena, wideRouter));
        MixtureOfDepths mod = new MixtureOfDepths(arena, router, 0.5);
        Tensor wide = arena.zeros(DType.F32, 4, 9);
        rejects("mod_scores: x has hidden size 9, the router 8", () -> mod.route(wide));
        Tensor bf16 = arena.zeros(DType.BF16, 4, 8);
        rejects("mod_scores: x is BF16, expected F32", () -> mod.route(bf16));
        Tensor x = arena.uniform(DType.F32, -1, 1, 4, 8);
        try (ModRoute r = mod.route(x)) {
            rejects("mod_apply: block output must have shape [2, 8] (selected, H), got [2, 7]", () -> mod.apply(x, r, rows -> arena.zeros(DType.F32, 2, 7)));
            Tensor other = arena.zeros(DType.F32, 5, 8);
            rejects("mod_apply: route is for 4 tokens, x has 5", () -> mod.apply(other, r, rows -> rows));
        }
    }
}
