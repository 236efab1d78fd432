package dev.braindrip.ops;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * A block-sparse attention layout (CLI.md, "sparse-attention"; native attention.h, block_row_ptr):
 * which key blocks each query block sees, per head or shared by every head. Immutable.
 *
 * <p>Blocks are {@code blockSize} tokens (a positive multiple of 64: the kernels' key tiles divide
 * it). Query i of Sq over Skv keys sits at the bottom-right aligned position i' = i + Skv − Sq and
 * belongs to query block qb = ⌊i' / blockSize⌋; key j belongs to key block kb = ⌊j / blockSize⌋. Key j
 * is visible to query i when row qb of the query head's layout lists kb (and, with causal, j ≤ i').
 * Rows are absolute query blocks, so a layout has ⌈Skv / blockSize⌉ rows or more: for Sq == Skv that
 * is CLI.md's (Hq or 1, ⌈Sq/blk⌉, ⌈Skv/blk⌉) shape, and for Sq &lt; Skv (a prefill over a cached
 * prefix, or decode) the layout still needs ⌈Skv/blk⌉ rows, of which the last ⌈Sq/blk⌉ or so are used.
 * The generators build square layouts of ⌈maxSeq / blockSize⌉ blocks, enough for any Skv ≤ maxSeq.
 *
 * <p>Generators (query block qb, key block kb), combined with {@link #union} or {@link #parse}:
 * <ul>
 *   <li>{@link #local local(W)}: qb − W &lt; kb ≤ qb, the W most recent blocks;
 *   <li>{@link #strided strided(S)}: kb ≤ qb and (qb − kb) mod S = 0 (Sparse Transformer's strided
 *       pattern, Child et al. 2019);
 *   <li>{@link #verticalStride verticalStride(S)}: kb ≤ qb and (kb + 1) mod S = 0 (Phi-3-small's
 *       vertical stride: every S-th block, the same columns for every query block);
 *   <li>{@link #verticalStridePerHead verticalStridePerHead(S, H)}: Phi-3-small's heterogeneous
 *       heads: head h lists kb ≤ qb with (kb + h·max(1, ⌊S / H⌋) + 1) mod S = 0, so the heads
 *       together cover every column (the head_sliding_step of its blocksparse attention);
 *   <li>{@link #sinks sinks(N)}: kb &lt; N (the first N blocks, attention sinks).
 * </ul>
 */
public final class BlockSparseLayout {
    private final int blockSize;
    private final int heads;
    private final int rows;
    private final int cols;
    private final byte[] mask; // (heads, rows, cols), 1 = listed
    private final String description;
    private final Bsr full;

    /** Compressed rows: row (h, qb) lists colIdx[rowPtr[h·rows + qb] .. rowPtr[h·rows + qb + 1]), ascending. */
    public record Bsr(int[] rowPtr, int[] colIdx) {}

    private BlockSparseLayout(int blockSize, int heads, int rows, int cols, byte[] mask, String description) {
        this.blockSize = blockSize;
        this.heads = heads;
        this.rows = rows;
        this.cols = cols;
        this.mask = mask;
        this.description = description;
        this.full = compress(cols);
    }

    // ---- generators

    /** The W most recent blocks: qb − W &lt; kb ≤ qb. */
    public static BlockSparseLayout local(int blockSize, long maxSeq, int w) {
        positive("local", "W", w);
        return generate(blockSize, maxSeq, 1, "local:" + w, (h, qb, kb) -> kb <= qb && kb > qb - w);
    }

    /** Sparse Transformer's strided pattern: kb ≤ qb and (qb − kb) mod S = 0. */
    public static BlockSparseLayout strided(int blockSize, long maxSeq, int s) {
        positive("stride", "S", s);
        return generate(blockSize, maxSeq, 1, "stride:" + s, (h, qb, kb) -> kb <= qb && (qb - kb) % s == 0);
    }

    /** Phi-3-small's vertical stride: kb ≤ qb and (kb + 1) mod S = 0. */
    public static BlockSparseLayout verticalStride(int blockSize, long maxSeq, int s) {
        positive("vstride", "S", s);
        return generate(blockSize, maxSeq, 1, "vstride:" + s, (h, qb, kb) -> kb <= qb && (kb + 1) % s == 0);
    }

    /**
     * Phi-3-small's per-head vertical stride over {@code heads} layout heads: head h lists kb ≤ qb with
     * (kb + h·step + 1) mod S = 0, step = max(1, ⌊S / heads⌋). Head 0 equals {@link #verticalStride}.
     */
    public static BlockSparseLayout verticalStridePerHead(int blockSize, long maxSeq, int s, int heads) {
        positive("vstride", "S", s);
        positive("vstride", "heads", heads);
        int step = Math.max(1, s / heads);
        return generate(blockSize, maxSeq, heads, "vstride:" + s + " per head (step " + step + ")",
                (h, qb, kb) -> kb <= qb && (kb + (long) h * step + 1) % s == 0);
    }

    /** The first N blocks: kb &lt; N. */
    public static BlockSparseLayout sinks(int blockSize, long maxSeq, int n) {
        positive("sink", "N", n);
        return generate(blockSize, maxSeq, 1, "sink:" + n, (h, qb, kb) -> kb < n);
    }

    /** Sparse Transformer (Child et al. 2019): the W most recent blocks plus every S-th block back. */
    public static BlockSparseLayout localStrided(int blockSize, long maxSeq, int w, int s) {
        return union(local(blockSize, maxSeq, w), strided(blockSize, maxSeq, s));
    }

    /** Phi-3-small's block-sparse layers: the W most recent blocks plus the vertical stride S (shared by all heads). */
    public static BlockSparseLayout localVerticalStride(int blockSize, long maxSeq, int w, int s) {
        return union(local(blockSize, maxSeq, w), verticalStride(blockSize, maxSeq, s));
    }

    /** Phi-3-small with per-head vertical strides: local W plus {@link #verticalStridePerHead}. */
    public static BlockSparseLayout localVerticalStridePerHead(int blockSize, long maxSeq, int w, int s, int heads) {
        return union(local(blockSize, maxSeq, w), verticalStridePerHead(blockSize, maxSeq, s, heads));
    }

    /** StreamingLLM at block granularity: the first N blocks plus the W most recent ones. */
    public static BlockSparseLayout sinksWindow(int blockSize, long maxSeq, int n, int w) {
        return union(sinks(blockSize, maxSeq, n), local(blockSize, maxSeq, w));
    }

    /**
     * The union of layouts of one block size and block count; a shared layout (1 head) joins every
     * head of a per-head one; per-head layouts must have the same head count.
     */
    public static BlockSparseLayout union(BlockSparseLayout... parts) {
        if (parts == null || parts.length == 0) throw new IllegalArgumentException("block-sparse union: no layouts given");
        BlockSparseLayout first = parts[0];
        int heads = 1;
        StringJoiner desc = new StringJoiner(",");
        for (BlockSparseLayout p : parts) {
            if (p.blockSize != first.blockSize || p.rows != first.rows || p.cols != first.cols) {
                throw new IllegalArgumentException("block-sparse union: layouts differ in block size or block count (" + first + " vs " + p + ")");
            }
            if (p.heads > 1 && heads > 1 && p.heads != heads) {
                throw new IllegalArgumentException("block-sparse union: per-head layouts differ in head count (" + heads + " vs " + p.heads + ")");
            }
            heads = Math.max(heads, p.heads);
            desc.add(p.description);
        }
        int plane = first.rows * first.cols;
        byte[] m = new byte[heads * plane];
        for (BlockSparseLayout p : parts) {
            for (int h = 0; h < heads; h++) {
                int src = (p.heads == 1 ? 0 : h) * plane, dst = h * plane;
                for (int x = 0; x < plane; x++) m[dst + x] |= p.mask[src + x];
            }
        }
        return new BlockSparseLayout(first.blockSize, heads, first.rows, first.cols, m, desc.toString());
    }

    /**
     * CLI.md's {@code --pattern}: comma-separated terms {@code local:W}, {@code stride:S},
     * {@code vstride:S}, {@code sink:N}, combined by union. An unknown term or a bad number throws
     * IllegalArgumentException naming the term.
     */
    public static BlockSparseLayout parse(String pattern, int blockSize, long maxSeq) {
        if (pattern == null || pattern.isBlank()) {
            throw new IllegalArgumentException("block-sparse pattern is empty (expected terms like local:4,stride:8)");
        }
        String[] terms = pattern.split(",", -1);
        BlockSparseLayout[] parts = new BlockSparseLayout[terms.length];
        for (int i = 0; i < terms.length; i++) {
            String term = terms[i].trim();
            int colon = term.indexOf(':');
            String name = colon < 0 ? term : term.substring(0, colon).toLowerCase(Locale.ROOT);
            if (colon < 0) {
                throw new IllegalArgumentException("block-sparse pattern term '" + term + "' needs a number (local:W, stride:S, vstride:S, sink:N)");
            }
            int n;
            try {
                n = Integer.parseInt(term.substring(colon + 1).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("block-sparse pattern term '" + term + "': '" + term.substring(colon + 1)
                        + "' is not a whole number", e);
            }
            if (n < 1) throw new IllegalArgumentException("block-sparse pattern term '" + term + "': the number must be >= 1");
            parts[i] = switch (name) {
                case "local" -> local(blockSize, maxSeq, n);
                case "stride" -> strided(blockSize, maxSeq, n);
                case "vstride" -> verticalStride(blockSize, maxSeq, n);
                case "sink" -> sinks(blockSize, maxSeq, n);
                default -> throw new IllegalArgumentException("block-sparse pattern term '" + term
                        + "' is unknown (expected local:W, stride:S, vstride:S or sink:N)");
            };
        }
        return parts.length == 1 ? parts[0] : union(parts);
    }

    /** A layout from a dense mask (heads, rows, cols), nonzero = listed. */
    public static BlockSparseLayout fromMask(byte[] mask, int heads, int rows, int cols, int blockSize) {
        checkBlockSize(blockSize);
        if (heads < 1 || rows < 1 || cols < 1) {
            throw new IllegalArgumentException("block-sparse layout: heads, rows and cols must be >= 1, got (" + heads + ", " + rows + ", " + cols + ")");
        }
        if (mask == null || mask.length != (long) heads * rows * cols) {
            throw new IllegalArgumentException("block-sparse layout: mask has " + (mask == null ? 0 : mask.length) + " entries, expected "
                    + heads + " x " + rows + " x " + cols);
        }
        byte[] m = new byte[mask.length];
        for (int x = 0; x < m.length; x++) m[x] = (byte) (mask[x] != 0 ? 1 : 0);
        return new BlockSparseLayout(blockSize, heads, rows, cols, m, "custom");
    }

    /** A layout from a U8 tensor (heads, rows, cols) on any device, nonzero = listed. */
    public static BlockSparseLayout fromTensor(Tensor layout, int blockSize) {
        if (layout == null) throw new IllegalArgumentException("block-sparse layout tensor is null");
        layout.checkOpen();
        if (layout.dtype() != DType.U8 || layout.rank() != 3) {
            throw new IllegalArgumentException("block-sparse layout must be U8 of shape (heads, query blocks, key blocks), got " + layout);
        }
        long h = layout.dim(0), r = layout.dim(1), c = layout.dim(2);
        if (h * r * c > Integer.MAX_VALUE) throw new IllegalArgumentException("block-sparse layout is too large: " + layout);
        return fromMask(layout.toByteArray(), (int) h, (int) r, (int) c, blockSize);
    }

    /** Blocks per side for a sequence of {@code seq} tokens: ⌈seq / blockSize⌉. */
    public static int blocksFor(long seq, int blockSize) {
        checkBlockSize(blockSize);
        long n = (Math.max(seq, 0) + blockSize - 1) / blockSize;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("block-sparse layout: " + seq + " tokens is too long");
        return (int) n;
    }

    // ---- accessors

    public int blockSize() {
        return blockSize;
    }

    /** 1 (one layout shared by every query head) or the number of query heads. */
    public int heads() {
        return heads;
    }

    /** Query blocks (rows) per head. */
    public int queryBlocks() {
        return rows;
    }

    /** Key blocks (columns) per row. */
    public int keyBlocks() {
        return cols;
    }

    /** How the layout was made: the pattern ("local:4,stride:8") or "custom". */
    public String description() {
        return description;
    }

    /** Whether head h's row qb lists key block kb (a shared layout ignores h); false outside the layout. */
    public boolean sees(int h, long qb, long kb) {
        if (qb < 0 || qb >= rows || kb < 0 || kb >= cols) return false;
        int lh = heads == 1 ? 0 : h;
        return mask[(int) (((long) lh * rows + qb) * cols + kb)] != 0;
    }

    /** The dense mask (heads, rows, cols), 1 = listed (a copy). */
    public byte[] mask() {
        return mask.clone();
    }

    /** Listed blocks over all heads. */
    public int listedBlocks() {
        return full.colIdx().length;
    }

    /**
     * The BSR arrays the kernels read for keys of a call with {@code seqKv} keys: every row of the
     * layout, columns below ⌈seqKv / blockSize⌉ (blocks past the keys list nothing visible). Copies.
     */
    public Bsr bsr(long seqKv) {
        int limit = Math.min(cols, blocksFor(seqKv, blockSize));
        Bsr b = limit == cols ? full : compress(limit);
        return new Bsr(b.rowPtr().clone(), b.colIdx().clone());
    }

    // ---- density

    /**
     * Visible (query, key) pairs over Sq·Skv for a call of seqQ queries over seqKv keys (with the
     * causal rule when {@code causal}), averaged over the layout's heads.
     */
    public double density(long seqQ, long seqKv, boolean causal) {
        if (seqQ <= 0 || seqKv <= 0) return 0;
        return visiblePairs(seqQ, seqKv, causal) / ((double) heads * seqQ * seqKv);
    }

    /** Visible pairs under the causal rule over the pairs dense causal attention computes (1 = dense causal). */
    public double causalFraction(long seqQ, long seqKv) {
        double dense = denseCausalPairs(seqQ, seqKv);
        return dense == 0 ? 0 : visiblePairs(seqQ, seqKv, true) / (heads * dense);
    }

    /** Pairs dense causal attention sees: Σ over queries of i' + 1 (bottom-right aligned, i' ≥ 0). */
    public static double denseCausalPairs(long seqQ, long seqKv) {
        long lo = Math.max(0, seqKv - seqQ), hi = seqKv; // i' + 1 runs over lo + 1 .. hi
        return hi <= lo ? 0 : ((double) hi * (hi + 1) - (double) lo * (lo + 1)) / 2;
    }

    private double visiblePairs(long seqQ, long seqKv, boolean causal) {
        if (blocksFor(seqKv, blockSize) > rows) {
            throw new IllegalArgumentException("block-sparse layout has " + rows + " query blocks but " + seqKv + " keys need "
                    + blocksFor(seqKv, blockSize) + " (rows are absolute query blocks: ⌈Skv / " + blockSize + "⌉)");
        }
        long first = Math.max(0, seqKv - seqQ); // aligned positions i' run over [first, seqKv)
        double total = 0;
        for (int h = 0; h < heads; h++) {
            for (int qb = 0; qb < rows; qb++) {
                long p0 = Math.max(first, (long) qb * blockSize), p1 = Math.min(seqKv, (long) (qb + 1) * blockSize);
                if (p1 <= p0) continue;
                int base = (h * rows + qb) * cols;
                for (int kb = 0; kb < cols; kb++) {
                    if (mask[base + kb] == 0) continue;
                    long j0 = (long) kb * blockSize, j1 = Math.min(seqKv, j0 + blockSize);
                    if (j1 <= j0) continue;
                    if (!causal) {
                        total += (double) (p1 - p0) * (j1 - j0);
                    } else {
                        for (long ip = p0; ip < p1; ip++) total += Math.max(0, Math.min(j1, ip + 1) - j0);
                    }
                }
            }
        }
        return total;
    }

    // ---- internals

    @FunctionalInterface
    private interface Rule {
        boolean listed(int head, int qb, int kb);
    }

    private static BlockSparseLayout generate(int blockSize, long maxSeq, int heads, String description, Rule rule) {
        checkBlockSize(blockSize);
        if (maxSeq < 1) throw new IllegalArgumentException("block-sparse layout: maxSeq (" + maxSeq + ") must be >= 1");
        int n = blocksFor(maxSeq, blockSize);
        if ((long) heads * n * n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("block-sparse layout: " + heads + " x " + n + " x " + n + " blocks is too large");
        }
        byte[] m = new byte[heads * n * n];
        for (int h = 0; h < heads; h++) {
            for (int qb = 0; qb < n; qb++) {
                for (int kb = 0; kb < n; kb++) if (rule.listed(h, qb, kb)) m[(h * n + qb) * n + kb] = 1;
            }
        }
        return new BlockSparseLayout(blockSize, heads, n, n, m, description);
    }

    private static void checkBlockSize(int blockSize) {
        if (blockSize <= 0 || blockSize % 64 != 0) {
            throw new IllegalArgumentException("block-sparse layout: block size (" + blockSize
                    + ") must be a positive multiple of 64 (the kernels' key tiles divide it)");
        }
    }

    private static void positive(String term, String what, int n) {
        if (n < 1) throw new IllegalArgumentException("block-sparse pattern " + term + ": " + what + " (" + n + ") must be >= 1");
    }

    private Bsr compress(int colLimit) {
        int nRows = heads * rows;
        int[] rowPtr = new int[nRows + 1];
        int nnz = 0;
        for (int r = 0; r < nRows; r++) {
            for (int kb = 0; kb < colLimit; kb++) if (mask[r * cols + kb] != 0) nnz++;
            rowPtr[r + 1] = nnz;
        }
        int[] colIdx = new int[nnz];
        int x = 0;
        for (int r = 0; r < nRows; r++) {
            for (int kb = 0; kb < colLimit; kb++) if (mask[r * cols + kb] != 0) colIdx[x++] = kb;
        }
        return new Bsr(rowPtr, colIdx);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockSparseLayout l && blockSize == l.blockSize && heads == l.heads && rows == l.rows && cols == l.cols
                && Arrays.equals(mask, l.mask);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mask) + blockSize * 7 + heads;
    }

    @Override
    public String toString() {
        return "BlockSparseLayout[" + description + ", block " + blockSize + ", " + heads + (heads == 1 ? " head" : " heads") + ", " + rows
                + "x" + cols + " blocks, " + listedBlocks() + " listed]";
    }
}
