package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Tensor;

/**
 * The expert-contiguous order of the T·k slots (slot s = t·k + j, the j-th choice of token t) made
 * by {@link MoeDispatch#align}: each expert's segment is padded to the grouped GEMM's M tile and
 * keeps ascending slot order inside (deterministic). Everything stays on the device.
 *
 * @param tokens              T
 * @param topK                k
 * @param experts             E
 * @param blockM              the M tile every segment is padded to
 * @param maxRows             capacity of the padded buffers (a multiple of blockM)
 * @param sortedTokenIds      (maxRows) I32: slot ids expert by expert; padding and rows past the end = T·k
 * @param expertIds           (maxRows / blockM) I32: expert of each M tile; −1 past the end
 * @param expertOffsets       (E + 1) I32: first padded row of each expert; [E] = total rows
 * @param numTokensPostPadded (1) I32: total padded rows
 * @param slotPos             (T·k) I32: sorted row of each slot (the inverse map); −1 for a dropped slot
 * @param expertCounts        (E) I32: slots per expert, unpadded
 */
public record ExpertAlignment(long tokens, int topK, int experts, long blockM, long maxRows, Tensor sortedTokenIds, Tensor expertIds,
                              Tensor expertOffsets, Tensor numTokensPostPadded, Tensor slotPos, Tensor expertCounts)
        implements AutoCloseable {
    /** T·k. */
    public long slots() {
        return tokens * topK;
    }

    @Override
    public void close() {
        MoeChecks.closeAll(sortedTokenIds, expertIds, expertOffsets, numTokensPostPadded, slotPos, expertCounts);
    }
}
