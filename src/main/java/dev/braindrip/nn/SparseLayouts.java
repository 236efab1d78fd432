package dev.braindrip.nn;

import dev.braindrip.ops.BlockSparseLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The block-sparse layout of a layer by pattern, built for each sequence length it meets (a
 * layout's rows cover ⌈length / block⌉ query blocks). Terms as CLI.md's --pattern, plus
 * {@code hvstride:S}: Phi-3-small's per-head vertical stride over the layer's query heads.
 */
public final class SparseLayouts {
    private final String pattern;
    private final int block, heads;
    private final Map<Long, BlockSparseLayout> byBlocks = new ConcurrentHashMap<>();

    public SparseLayouts(String pattern, int block, int heads) {
        this.pattern = pattern;
        this.block = block;
        this.heads = heads;
        build(block); // fail at assembly on a bad pattern
    }

    public int blockSize() {
        return block;
    }

    /** A layout covering {@code length} tokens (rounded up to whole blocks, so lengths share layouts). */
    public BlockSparseLayout forLength(long length) {
        long blocks = Math.max(1, (length + block - 1) / block);
        return byBlocks.computeIfAbsent(blocks, n -> build(n * block));
    }

    private BlockSparseLayout build(long maxSeq) {
        List<String> shared = new ArrayList<>();
        List<BlockSparseLayout> parts = new ArrayList<>();
        for (String term : pattern.split(",")) {
            String t = term.trim();
            if (t.startsWith("hvstride:")) {
                int s;
                try {
                    s = Integer.parseInt(t.substring("hvstride:".length()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("sparse pattern: bad term '" + t + "'");
                }
                parts.add(BlockSparseLayout.verticalStridePerHead(block, maxSeq, s, heads));
            } else {
                shared.add(t);
            }
        }
        if (!shared.isEmpty()) parts.add(BlockSparseLayout.parse(String.join(",", shared), block, maxSeq));
        return parts.size() == 1 ? parts.get(0) : BlockSparseLayout.union(parts.toArray(new BlockSparseLayout[0]));
    }
}
