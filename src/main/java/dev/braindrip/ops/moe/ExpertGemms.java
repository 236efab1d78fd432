package dev.braindrip.ops.moe;

import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * The expert stages on their own (what {@link MoeLayer} runs inside one moe_forward call), for tests,
 * peers and callers with their own dispatch:
 * <ul>
 *   <li>grouped path: {@link #gateUp} (one launch for every expert, activation fused) and {@link #down}
 *       (one launch, each row scaled by its routing weight and written to its slot's row);</li>
 *   <li>decode path: {@link #gateUpDecode} and {@link #downDecode}, GEMV-style, no permutation;</li>
 *   <li>{@link #combine}: y[t] = Σ_j y_slots[t·k + j] in that order, plus the gated shared expert output.</li>
 * </ul>
 * Rows the kernels leave untouched (past the padded end, dropped slots) are zero in the returned tensors.
 */
public final class ExpertGemms {
    private final Arena arena;
    private final MoeConfig config;
    private final MoeWeights weights;
    private final MoeKernels kernels;

    public ExpertGemms(Arena arena, MoeConfig config, MoeWeights weights) {
        weights.check("moe_experts", config, arena.device());
        this.arena = arena;
        this.config = config;
        this.weights = weights;
        this.kernels = MoeKernels.of(arena.device().isCuda());
    }

    /** act (maxRows, F): row p = act(x[token] · w_gate[e]ᵀ + b, x[token] · w_up[e]ᵀ + b) for the expert e of p's tile. x: (T, H). */
    public Tensor gateUp(Tensor x, ExpertAlignment a) {
        String op = "moe_gate_up";
        checkX(op, x);
        checkAlignment(op, a);
        if (x.dim(0) != a.tokens()) throw new IllegalArgumentException(op + ": x has " + x.dim(0) + " rows, the alignment " + a.tokens() + " tokens");
        MoeWeights w = weights;
        Tensor act = arena.zeros(w.dtype(), a.maxRows(), w.ffn());
        return MoeChecks.run(kernels, act, op, () -> kernels.moeGateUp(x.address(), w.wGate().address(), MoeChecks.address(w.wUp()),
                MoeChecks.address(w.bGate()), MoeChecks.address(w.bUp()), config.gateUpLayout().code(), config.activation().code(),
                a.sortedTokenIds().address(), a.expertIds().address(), a.numTokensPostPadded().address(), a.tokens(), w.hidden(), w.ffn(),
                config.experts(), config.topK(), a.blockM(), a.maxRows(), act.address(), w.dtype().code(), 0L));
    }

    /** y_slots (T·k, H): row s = topkWeights[s] · (act[row of s] · w_down[e]ᵀ + b_down[e]). act: (maxRows, F). */
    public Tensor down(Tensor act, ExpertAlignment a, Tensor topkWeights) {
        String op = "moe_down";
        checkAlignment(op, a);
        MoeWeights w = weights;
        checkRows(op, "act", act, a.maxRows(), w.ffn(), "(maxRows, F)");
        checkTopk(op, "topk_weights", topkWeights, a.tokens(), DType.F32);
        Tensor ySlots = arena.zeros(w.dtype(), a.slots(), w.hidden());
        return MoeChecks.run(kernels, ySlots, op, () -> kernels.moeDown(act.address(), w.wDown().address(), MoeChecks.address(w.bDown()),
                topkWeights.address(), a.sortedTokenIds().address(), a.expertIds().address(), a.numTokensPostPadded().address(), a.tokens(),
                w.hidden(), w.ffn(), config.experts(), config.topK(), a.blockM(), a.maxRows(), ySlots.address(), w.dtype().code(), 0L));
    }

    /** act (T·k, F) in slot order (zero rows for dropped slots), straight from topkIds (T, k). x: (T, H). */
    public Tensor gateUpDecode(Tensor x, Tensor topkIds) {
        String op = "moe_gate_up_decode";
        checkX(op, x);
        long t = x.dim(0);
        checkTopk(op, "topk_ids", topkIds, t, DType.I32);
        MoeWeights w = weights;
        Tensor act = arena.zeros(w.dtype(), t * config.topK(), w.ffn());
        return MoeChecks.run(kernels, act, op, () -> kernels.moeGateUpDecode(x.address(), w.wGate().address(), MoeChecks.address(w.wUp()),
                MoeChecks.address(w.bGate()), MoeChecks.address(w.bUp()), config.gateUpLayout().code(), config.activation().code(),
                topkIds.address(), t, w.hidden(), w.ffn(), config.experts(), config.topK(), act.address(), w.dtype().code(), 0L));
    }

    /** y_slots (T·k, H) as {@link #down}, from act (T·k, F) in slot order. */
    public Tensor downDecode(Tensor act, Tensor topkIds, Tensor topkWeights) {
        String op = "moe_down_decode";
        MoeChecks.onDevice(op, arena.device(), "topk_ids", topkIds);
        MoeChecks.rank(op, "topk_ids", topkIds, 2, "(T, k)");
        long t = topkIds.dim(0);
        checkTopk(op, "topk_ids", topkIds, t, DType.I32);
        checkTopk(op, "topk_weights", topkWeights, t, DType.F32);
        MoeWeights w = weights;
        checkRows(op, "act", act, t * config.topK(), w.ffn(), "(T*k, F)");
        Tensor ySlots = arena.zeros(w.dtype(), t * config.topK(), w.hidden());
        return MoeChecks.run(kernels, ySlots, op, () -> kernels.moeDownDecode(act.address(), w.wDown().address(), MoeChecks.address(w.bDown()),
                topkWeights.address(), topkIds.address(), t, w.hidden(), w.ffn(), config.experts(), config.topK(), ySlots.address(),
                w.dtype().code(), 0L));
    }

    /**
     * y (T, H) = Σ_{j<k, id ≥ 0} ySlots[t·k + j] in that order, F32 sum rounded once, plus
     * sigmoid(sharedGateLogits[t]) · sharedOut[t] (gate 1 when sharedGateLogits is null).
     * ySlots (T·k, H); topkIds (T, k) I32; sharedOut (T, H) or null; sharedGateLogits (T) F32 or null.
     */
    public Tensor combine(Tensor ySlots, Tensor topkIds, Tensor sharedOut, Tensor sharedGateLogits) {
        String op = "moe_combine";
        MoeChecks.onDevice(op, arena.device(), "topk_ids", topkIds);
        MoeChecks.rank(op, "topk_ids", topkIds, 2, "(T, k)");
        long t = topkIds.dim(0), h = weights.hidden();
        checkTopk(op, "topk_ids", topkIds, t, DType.I32);
        checkRows(op, "y_slots", ySlots, t * config.topK(), h, "(T*k, H)");
        if (sharedOut != null) checkRows(op, "shared_out", sharedOut, t, h, "(T, H)");
        if (sharedGateLogits != null) {
            MoeChecks.onDevice(op, arena.device(), "shared_gate_logits", sharedGateLogits);
            MoeChecks.dtype(op, "shared_gate_logits", sharedGateLogits, DType.F32);
            if (sharedGateLogits.numel() != t) {
                throw new IllegalArgumentException(op + ": shared_gate_logits has " + sharedGateLogits.numel() + " values, expected T (" + t + ")");
            }
        }
        Tensor y = arena.empty(weights.dtype(), t, h);
        return MoeChecks.run(kernels, y, op, () -> kernels.moeCombine(ySlots.address(), topkIds.address(), MoeChecks.address(sharedOut),
                MoeChecks.address(sharedGateLogits), t, config.topK(), h, y.address(), weights.dtype().code(), 0L));
    }

    private void checkX(String op, Tensor x) {
        MoeChecks.onDevice(op, arena.device(), "x", x);
        MoeChecks.rank(op, "x", x, 2, "(T, H)");
        MoeChecks.dtype(op, "x", x, weights.dtype());
        MoeChecks.shape(op, "x", x, "(T, H)", x.dim(0), weights.hidden());
    }

    private void checkRows(String op, String name, Tensor t, long rows, long cols, String layout) {
        MoeChecks.onDevice(op, arena.device(), name, t);
        MoeChecks.dtype(op, name, t, weights.dtype());
        MoeChecks.shape(op, name, t, layout, rows, cols);
    }

    private void checkTopk(String op, String name, Tensor t, long tokens, DType dtype) {
        MoeChecks.onDevice(op, arena.device(), name, t);
        MoeChecks.dtype(op, name, t, dtype);
        MoeChecks.shape(op, name, t, "(T, k)", tokens, config.topK());
    }

    private void checkAlignment(String op, ExpertAlignment a) {
        if (a.topK() != config.topK() || a.experts() != config.experts()) {
            throw new IllegalArgumentException(op + ": alignment is for k " + a.topK() + " over " + a.experts() + " experts, the layer has k "
                    + config.topK() + " over " + config.experts());
        }
    }
}
