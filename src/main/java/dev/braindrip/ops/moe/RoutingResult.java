package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * What a router decided for T tokens, on the device: {@code topkIds} (T, k) I32 (−1 for a slot
 * dropped by capacity; a token's experts best first), {@code topkWeights} (T, k) F32 (scaling
 * applied; 0 for a dropped slot), {@code tokensPerExpert} (E) I32. The statistics are read from the
 * device on the first call of {@link #stats()} (a synchronisation on CUDA) and kept. Closing frees
 * all four tensors.
 */
public final class RoutingResult implements AutoCloseable {
    /** Floats in the stats tensor (BD_MOE_STATS_COUNT). */
    static final int STATS_COUNT = 3;

    private final Tensor topkIds;
    private final Tensor topkWeights;
    private final Tensor tokensPerExpert;
    private final Tensor statsValues;
    private MoeStats stats;

    RoutingResult(Tensor topkIds, Tensor topkWeights, Tensor tokensPerExpert, Tensor statsValues) {
        this.topkIds = topkIds;
        this.topkWeights = topkWeights;
        this.tokensPerExpert = tokensPerExpert;
        this.statsValues = statsValues;
    }

    /** Output tensors for T tokens of k slots over E experts, in the arena (freed again if one allocation fails). */
    static RoutingResult allocate(Arena arena, long tokens, int topK, int experts) {
        Tensor ids = null, weights = null, counts = null, stats = null;
        try {
            ids = arena.empty(DType.I32, tokens, topK);
            weights = arena.empty(DType.F32, tokens, topK);
            counts = arena.empty(DType.I32, experts);
            stats = arena.empty(DType.F32, STATS_COUNT);
            return new RoutingResult(ids, weights, counts, stats);
        } catch (RuntimeException e) {
            MoeChecks.closeAll(ids, weights, counts, stats);
            throw e;
        }
    }

    /** The result of routing zero tokens: no expert used, every statistic 0 (the kernels do not run). */
    RoutingResult zeroed() {
        tokensPerExpert.zero();
        statsValues.zero();
        return this;
    }

    long statsAddress() {
        return statsValues.address();
    }

    public Tensor topkIds() {
        return topkIds;
    }

    public Tensor topkWeights() {
        return topkWeights;
    }

    public Tensor tokensPerExpert() {
        return tokensPerExpert;
    }

    /** Load statistics (read once from the device, then cached; read them before closing). */
    public synchronized MoeStats stats() {
        if (stats == null) {
            float[] v = statsValues.toFloatArray();
            stats = new MoeStats(tokensPerExpert.toIntArray(), Math.round(v[2]), v[0], v[1]);
        }
        return stats;
    }

    @Override
    public void close() {
        MoeChecks.closeAll(topkIds, topkWeights, tokensPerExpert, statsValues);
    }
}
