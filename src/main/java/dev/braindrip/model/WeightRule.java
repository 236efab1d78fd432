package dev.braindrip.model;

import java.util.List;

/**
 * How one of the model's own tensors (canonical name, canonical shape) comes from a checkpoint's
 * tensors, and goes back to them on save. Every transform is a pure permutation of elements, so a
 * save after a load writes the checkpoint's bytes back unchanged.
 *
 * <ul>
 *   <li>COPY: one checkpoint tensor of the canonical shape.</li>
 *   <li>TRANSPOSE: one (in, out) matrix (GPT-2's Conv1D) becomes (out, in).</li>
 *   <li>TRANSPOSE_PART: part {@code part} of {@code parts} equal column blocks of an (in, parts·out)
 *       matrix (GPT-2's fused c_attn), transposed to (out, in).</li>
 *   <li>PART: part {@code part} of {@code parts} equal slices of a vector (c_attn's fused bias).</li>
 *   <li>CONCAT: several checkpoint tensors stacked along dimension 0, in order (one gate|up
 *       matrix from gate and up; (E, F, H) experts from E (F, H) matrices).</li>
 * </ul>
 *
 * @param name     canonical name (e.g. "layers.0.attn.q.weight")
 * @param shape    canonical shape
 * @param kind     the transform
 * @param sources  checkpoint tensor names (one, except CONCAT)
 * @param part     TRANSPOSE_PART: which column block
 * @param parts    TRANSPOSE_PART: how many column blocks
 */
public record WeightRule(String name, long[] shape, Kind kind, List<String> sources, int part, int parts) {
    public enum Kind { COPY, TRANSPOSE, TRANSPOSE_PART, PART, CONCAT }

    public WeightRule {
        sources = List.copyOf(sources);
        shape = shape.clone();
        if (sources.isEmpty()) throw new IllegalArgumentException("weight rule " + name + " has no source");
        if (kind != Kind.CONCAT && sources.size() != 1) throw new IllegalArgumentException("weight rule " + name + ": " + kind + " takes one source");
        if (kind == Kind.TRANSPOSE || kind == Kind.TRANSPOSE_PART) {
            if (shape.length != 2) throw new IllegalArgumentException("weight rule " + name + ": " + kind + " needs a matrix");
        }
        if (kind == Kind.CONCAT && shape[0] % sources.size() != 0) {
            throw new IllegalArgumentException("weight rule " + name + ": " + sources.size() + " sources do not divide dimension 0 of its shape");
        }
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

    /** The shape each checkpoint tensor must have. */
    public long[] sourceShape() {
        return switch (kind) {
            case COPY -> shape.clone();
            case TRANSPOSE -> new long[] {shape[1], shape[0]};
            case TRANSPOSE_PART -> new long[] {shape[1], shape[0] * parts};
            case PART -> new long[] {shape[0] * parts};
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
}
