package dev.braindrip.model;

import dev.braindrip.tensor.DType;
import java.util.List;

/**
 * How one of the model's own tensors (canonical name, canonical shape) comes from a checkpoint's
 * tensors, and goes back to them on save. Every transform but MXFP4 is a pure permutation of
 * elements, so a save after a load writes the checkpoint's bytes back unchanged.
 *
 * <ul>
 *   <li>COPY: one checkpoint tensor of the canonical shape.</li>
 *   <li>TRANSPOSE: one (in, out) matrix (GPT-2's Conv1D) becomes (out, in).</li>
 *   <li>TRANSPOSE_PART: part {@code part} of {@code parts} equal column blocks of an (in, parts·out)
 *       matrix (GPT-2's fused c_attn), transposed to (out, in).</li>
 *   <li>PART: part {@code part} of {@code parts} equal slices of a vector (c_attn's fused bias).</li>
 *   <li>CONCAT: several checkpoint tensors stacked along dimension 0, in order (one gate|up
 *       matrix from gate and up; (E, F, H) experts from E (F, H) matrices).</li>
 *   <li>TRANSPOSE_LAST2: a stack of matrices stored (E, b, a), applied as x·W (gpt-oss's experts),
 *       becomes (E, a, b) = nn.Linear's (out, in) per matrix.</li>
 *   <li>UNINTERLEAVE: the rows (dimension 0) of one checkpoint tensor, interleaved {@code parts}
 *       ways (checkpoint row i·parts + s), regrouped way by way (row s·n/parts + i): Phi-3-small's
 *       up_proj, whose even rows are the gate and odd rows the up, becomes one [gate; up] matrix.</li>
 *   <li>GROUPED_ROWS: the checkpoint tensor's dimension 0 is {@link RowGroups#groups} groups of
 *       {@link RowGroups#slots} equal row blocks; this tensor is blocks [first, first + count) of
 *       every group, group by group (Phi-3-small's query_key_value: per KV head its q heads, then
 *       its k, then its v). Several rules share the checkpoint tensor; a save reassembles it.</li>
 *   <li>MXFP4: load only. Two uint8 sources, blocks (…, R, C/32, 16) (two E2M1 values a byte, low
 *       nibble first) and scales (…, R, C/32) (E8M0: 2^(s − 127)), dequantized to the canonical
 *       (…, R, C) (gpt-oss's released experts). A save writes the dense tensors instead (the
 *       architecture's rules for no checkpoint names), so the bytes are not the original's.</li>
 * </ul>
 *
 * @param name     canonical name (e.g. "layers.0.attn.q.weight")
 * @param shape    canonical shape
 * @param kind     the transform
 * @param sources  checkpoint tensor names (one, except CONCAT and MXFP4)
 * @param part     TRANSPOSE_PART: which column block
 * @param parts    TRANSPOSE_PART: how many column blocks
 * @param dtype    the dtype the model keeps this tensor in whatever its own dtype (F32 for the
 *                 attention sinks and router bias the kernels take in F32), or null for the model
 *                 dtype; a save still writes the model dtype
 * @param rowGroups GROUPED_ROWS: which row blocks of the checkpoint tensor; null otherwise
 */
public record WeightRule(String name, long[] shape, Kind kind, List<String> sources, int part, int parts, DType dtype,
                         RowGroups rowGroups) {
    public enum Kind { COPY, TRANSPOSE, TRANSPOSE_PART, PART, CONCAT, TRANSPOSE_LAST2, MXFP4, UNINTERLEAVE, GROUPED_ROWS }

    /**
     * GROUPED_ROWS: dimension 0 of the checkpoint tensor is {@code groups} groups of {@code slots}
     * equal row blocks; the rule's tensor is blocks {@code first} .. {@code first + count − 1} of each.
     */
    public record RowGroups(int groups, int slots, int first, int count) {
        public RowGroups {
            if (groups < 1 || slots < 1 || count < 1 || first < 0 || first + count > slots) {
                throw new IllegalArgumentException("row groups: need groups, slots, count >= 1 and 0 <= first, first + count <= slots; got "
                        + groups + " groups of " + slots + " slots, blocks " + first + " + " + count);
            }
        }
    }

    /** Elements per MXFP4 block (one E8M0 scale each). */
    public static final int MXFP4_BLOCK = 32;

    public WeightRule {
        sources = List.copyOf(sources);
        shape = shape.clone();
        if (sources.isEmpty()) throw new IllegalArgumentException("weight rule " + name + " has no source");
        if (kind == Kind.MXFP4) {
            if (sources.size() != 2) throw new IllegalArgumentException("weight rule " + name + ": MXFP4 takes two sources (blocks, scales)");
            if (shape.length < 2 || shape[shape.length - 1] % MXFP4_BLOCK != 0) {
                throw new IllegalArgumentException("weight rule " + name + ": MXFP4 needs rank >= 2 and a last dimension divisible by "
                        + MXFP4_BLOCK);
            }
        } else if (kind != Kind.CONCAT && sources.size() != 1) {
            throw new IllegalArgumentException("weight rule " + name + ": " + kind + " takes one source");
        }
        if (kind == Kind.TRANSPOSE || kind == Kind.TRANSPOSE_PART) {
            if (shape.length != 2) throw new IllegalArgumentException("weight rule " + name + ": " + kind + " needs a matrix");
        }
        if (kind == Kind.TRANSPOSE_LAST2 && shape.length != 3) {
            throw new IllegalArgumentException("weight rule " + name + ": TRANSPOSE_LAST2 needs a stack of matrices (rank 3)");
        }
        if (kind == Kind.CONCAT && shape[0] % sources.size() != 0) {
            throw new IllegalArgumentException("weight rule " + name + ": " + sources.size() + " sources do not divide dimension 0 of its shape");
        }
        if (dtype != null && !dtype.isFloat()) throw new IllegalArgumentException("weight rule " + name + ": dtype " + dtype + " is not a float type");
        if ((kind == Kind.GROUPED_ROWS) != (rowGroups != null)) {
            throw new IllegalArgumentException("weight rule " + name + ": row groups are given exactly for GROUPED_ROWS");
        }
        if (kind == Kind.GROUPED_ROWS && (shape.length < 1 || shape[0] % ((long) rowGroups.groups() * rowGroups.count()) != 0)) {
            throw new IllegalArgumentException("weight rule " + name + ": " + rowGroups.groups() + " groups of " + rowGroups.count()
                    + " blocks do not divide dimension 0 of its shape");
        }
        if (kind == Kind.UNINTERLEAVE && (parts < 2 || shape.length < 1 || shape[0] % parts != 0)) {
            throw new IllegalArgumentException("weight rule " + name + ": UNINTERLEAVE needs parts >= 2 dividing dimension 0 (parts " + parts + ")");
        }
    }

    /** A rule in the model dtype. */
    public WeightRule(String name, long[] shape, Kind kind, List<String> sources, int part, int parts) {
        this(name, shape, kind, sources, part, parts, null, null);
    }

    /** A rule of any kind but GROUPED_ROWS, kept in {@code dtype} (null: the model dtype). */
    public WeightRule(String name, long[] shape, Kind kind, List<String> sources, int part, int parts, DType dtype) {
        this(name, shape, kind, sources, part, parts, dtype, null);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public static WeightRule copy(String name, String source, long... shape) {
        return new WeightRule(name, shape, Kind.COPY, List.of(source), 0, 1);
    }

    public static WeightRule transpose(String name, String source, long out, long in) {
        return new WeightRule(name, new long[] {out, in}, Kind.TRANSPOSE, List.of(source), 0, 1);
    }

    public static WeightRule transposePart(String name, String source, int part, int parts, long out, long in) {
        return new WeightRule(name, new long[] {out, in}, Kind.TRANSPOSE_PART, List.of(source), part, parts);
    }

    public static WeightRule part(String name, String source, int part, int parts, long n) {
        return new WeightRule(name, new long[] {n}, Kind.PART, List.of(source), part, parts);
    }

    public static WeightRule concat(String name, List<String> sources, long... shape) {
        return new WeightRule(name, shape, Kind.CONCAT, sources, 0, 1);
    }

    /** (e, a, b) canonical from a checkpoint tensor stored (e, b, a). */
    public static WeightRule transposeLast2(String name, String source, long e, long a, long b) {
        return new WeightRule(name, new long[] {e, a, b}, Kind.TRANSPOSE_LAST2, List.of(source), 0, 1);
    }

    /** Rows of {@code source} interleaved {@code parts} ways, regrouped way by way (UNINTERLEAVE). */
    public static WeightRule uninterleave(String name, String source, int parts, long... shape) {
        return new WeightRule(name, shape, Kind.UNINTERLEAVE, List.of(source), 0, parts);
    }

    /** Row blocks {@code g.first()} .. of every group of {@code source} (GROUPED_ROWS). */
    public static WeightRule groupedRows(String name, String source, RowGroups g, long... shape) {
        return new WeightRule(name, shape, Kind.GROUPED_ROWS, List.of(source), 0, 1, null, g);
    }

    /** The canonical {@code shape} dequantized from MXFP4 {@code blocks} and {@code scales}. */
    public static WeightRule mxfp4(String name, String blocks, String scales, long... shape) {
        return new WeightRule(name, shape, Kind.MXFP4, List.of(blocks, scales), 0, 1);
    }

    /** This rule with the tensor kept in {@code t} (null: the model dtype). */
    public WeightRule withDType(DType t) {
        return new WeightRule(name, shape, kind, sources, part, parts, t, rowGroups);
    }

    /** The dtype the model keeps this tensor in, given the model dtype. */
    public DType dtypeFor(DType modelDType) {
        return dtype != null ? dtype : modelDType;
    }

    /**
     * UNINTERLEAVE and GROUPED_ROWS: the checkpoint row (index in dimension 0) that holds row
     * {@code row} of this tensor.
     */
    public long sourceRow(long row) {
        long n = shape[0];
        return switch (kind) {
            case UNINTERLEAVE -> {
                long per = n / parts;
                yield (row % per) * parts + row / per;
            }
            case GROUPED_ROWS -> {
                RowGroups g = rowGroups;
                long b = n / ((long) g.groups() * g.count()), block = row / b;
                yield ((block / g.count()) * g.slots() + g.first() + block % g.count()) * b + row % b;
            }
            default -> throw new IllegalStateException("weight rule " + name + ": " + kind + " does not permute rows");
        };
    }

    /** The shape each checkpoint tensor must have (MXFP4: the blocks; see {@link #sourceShape(int)}). */
    public long[] sourceShape() {
        return switch (kind) {
            case COPY -> shape.clone();
            case TRANSPOSE -> new long[] {shape[1], shape[0]};
            case TRANSPOSE_PART -> new long[] {shape[1], shape[0] * parts};
            case PART -> new long[] {shape[0] * parts};
            case TRANSPOSE_LAST2 -> new long[] {shape[0], shape[2], shape[1]};
            case MXFP4 -> sourceShape(0);
            case UNINTERLEAVE -> shape.clone();
            case GROUPED_ROWS -> {
                long[] s = shape.clone();
                s[0] = shape[0] / ((long) rowGroups.groups() * rowGroups.count()) * rowGroups.groups() * rowGroups.slots();
                yield s;
            }
            case CONCAT -> {
                long[] s = shape.clone();
                s[0] /= sources.size();
                // (E, F, H) from (F, H) experts: a leading dimension equal to the count is dropped
                if (s[0] == 1 && shape.length > 2) {
                    long[] t = new long[shape.length - 1];
                    System.arraycopy(shape, 1, t, 0, t.length);
                    yield t;
                }
                yield s;
            }
        };
    }

    /** The shape of source {@code i}: MXFP4 blocks (…, R, C/32, 16) and scales (…, R, C/32); the others as {@link #sourceShape()}. */
    public long[] sourceShape(int i) {
        if (kind != Kind.MXFP4) return sourceShape();
        int n = shape.length;
        long[] s = java.util.Arrays.copyOf(shape, i == 0 ? n + 1 : n);
        s[n - 1] = shape[n - 1] / MXFP4_BLOCK;
        if (i == 0) s[n] = MXFP4_BLOCK / 2;
        return s;
    }
}
