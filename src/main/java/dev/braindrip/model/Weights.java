package dev.braindrip.model;

import dev.braindrip.io.SafeTensorsDType;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.io.TensorInfo;
import dev.braindrip.io.TensorSource;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's own tensors by canonical name, loaded from a checkpoint by its architecture's
 * {@link WeightRule}s and saved back through them. Tensors keep the model dtype (or their rule's
 * own, e.g. F32 attention sinks); a checkpoint in that dtype is copied byte for byte from the
 * memory-mapped file (no float array in between). MXFP4 experts are dequantized at load.
 */
public final class Weights implements AutoCloseable {
    private final Map<String, Tensor> tensors;
    private final DType dtype;

    private Weights(Map<String, Tensor> tensors, DType dtype) {
        this.tensors = tensors;
        this.dtype = dtype;
    }

    /** Wraps tensors made elsewhere (random init, tests); each must have its rule's shape. */
    public static Weights of(Map<String, Tensor> tensors, DType dtype) {
        return new Weights(new LinkedHashMap<>(tensors), dtype);
    }

    public DType dtype() {
        return dtype;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor of a canonical name; throws naming it when absent. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("model has no weight '" + name + "'");
        return t;
    }

    public Tensor getOrNull(String name) {
        return tensors.get(name);
    }

    public Map<String, Tensor> all() {
        return java.util.Collections.unmodifiableMap(tensors);
    }

    public long bytes() {
        long b = 0;
        for (Tensor t : tensors.values()) b += t.bytes();
        return b;
    }

    public long parameters() {
        long n = 0;
        for (Tensor t : tensors.values()) n += t.numel();
        return n;
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) t.close();
    }

    // ---- load

    /**
     * Loads every rule's tensor from {@code src} into {@code arena} as {@code dtype}. Every
     * checkpoint tensor must be used by a rule or ignored by the architecture; a missing,
     * mis-shaped or unexpected tensor throws naming it and {@code where}.
     */
    public static Weights load(TensorSource src, List<WeightRule> rules, Architecture arch, Arena arena, DType dtype, String where) {
        Set<String> used = new HashSet<>();
        for (WeightRule r : rules) {
            for (int i = 0; i < r.sources().size(); i++) {
                String s = r.sources().get(i);
                if (!src.contains(s)) throw new IllegalArgumentException(where + ": missing tensor '" + s + "'");
                TensorInfo info = src.info(s);
                long[] want = r.sourceShape(i);
                if (!Arrays.equals(info.shape(), want)) {
                    throw new IllegalArgumentException(where + ": tensor '" + s + "' has shape " + Arrays.toString(info.shape())
                            + ", expected " + Arrays.toString(want));
                }
                if (r.kind() == WeightRule.Kind.MXFP4) {
                    if (info.dtype() != SafeTensorsDType.U8) {
                        throw new IllegalArgumentException(where + ": tensor '" + s + "' is " + info.dtype() + ", expected U8 (MXFP4 "
                                + (i == 0 ? "blocks" : "scales") + ")");
                    }
                } else if (!isFloat(info.dtype())) {
                    throw new IllegalArgumentException(where + ": tensor '" + s + "' is " + info.dtype() + ", expected F32, F16 or BF16");
                }
                used.add(s);
            }
        }
        for (String n : src.names()) {
            if (!used.contains(n) && !arch.ignored(n)) throw new IllegalArgumentException(where + ": unexpected tensor '" + n + "'");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (WeightRule r : rules) out.put(r.name(), loadOne(src, r, arena, r.dtypeFor(dtype)));
        } catch (RuntimeException e) {
            for (Tensor t : out.values()) t.close();
            throw e;
        }
        return new Weights(out, dtype);
    }

    private static boolean isFloat(SafeTensorsDType t) {
        return t == SafeTensorsDType.F32 || t == SafeTensorsDType.F16 || t == SafeTensorsDType.BF16;
    }

    private static Tensor loadOne(TensorSource src, WeightRule r, Arena arena, DType dtype) {
        Tensor t = arena.empty(r.name(), dtype, r.shape());
        try {
            int es = dtype.bytes();
            switch (r.kind()) {
                case COPY -> t.copyFrom(bytesAs(src, r.sources().get(0), dtype));
                case CONCAT -> {
                    long part = t.dim(0) / r.sources().size();
                    for (int i = 0; i < r.sources().size(); i++) {
                        try (Tensor view = t.narrow(i * part, part)) {
                            view.copyFrom(bytesAs(src, r.sources().get(i), dtype));
                        }
                    }
                }
                case PART -> {
                    ByteBuffer in = bytesAs(src, r.sources().get(0), dtype);
                    int n = Math.toIntExact(r.shape()[0] * es);
                    byte[] dst = new byte[n];
                    in.position(r.part() * n);
                    in.get(dst);
                    t.copyFrom(ByteBuffer.wrap(dst));
                }
                case TRANSPOSE, TRANSPOSE_PART -> {
                    long[] s = r.sourceShape();
                    ByteBuffer in = bytesAs(src, r.sources().get(0), dtype);
                    long out0 = r.shape()[0], in0 = r.shape()[1];
                    long col0 = (long) r.part() * out0;
                    byte[] dst = new byte[Math.toIntExact(out0 * in0 * es)];
                    for (long i = 0; i < in0; i++) {
                        for (long o = 0; o < out0; o++) {
                            int from = Math.toIntExact((i * s[1] + col0 + o) * es), to = Math.toIntExact((o * in0 + i) * es);
                            for (int b = 0; b < es; b++) dst[to + b] = in.get(from + b);
                        }
                    }
                    t.copyFrom(ByteBuffer.wrap(dst));
                }
                case TRANSPOSE_LAST2 -> {
                    ByteBuffer in = bytesAs(src, r.sources().get(0), dtype);
                    long[] s = r.sourceShape();
                    int matrix = Math.toIntExact(s[1] * s[2] * es);
                    for (int e = 0; e < s[0]; e++) {
                        byte[] dst = new byte[matrix];
                        transposeMatrix(in, (long) e * matrix, dst, 0, s[1], s[2], es);
                        try (Tensor view = t.narrow(e, 1)) {
                            view.copyFrom(ByteBuffer.wrap(dst));
                        }
                    }
                }
                case MXFP4 -> loadMxfp4(src, r, t);
                case UNINTERLEAVE, GROUPED_ROWS -> {
                    ByteBuffer in = bytesAs(src, r.sources().get(0), dtype);
                    int row = Math.toIntExact(t.numel() / r.shape()[0] * es);
                    byte[] dst = new byte[Math.toIntExact(t.numel() * es)];
                    for (long i = 0; i < r.shape()[0]; i++) in.get(Math.toIntExact(r.sourceRow(i) * row), dst, Math.toIntExact(i * row), row);
                    t.copyFrom(ByteBuffer.wrap(dst));
                }
            }
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Element (i, j) of the rows × cols matrix at byte {@code from} of {@code in} to (j, i) of {@code dst} at byte {@code to}. */
    private static void transposeMatrix(ByteBuffer in, long from, byte[] dst, int to, long rows, long cols, int es) {
        for (long i = 0; i < rows; i++) {
            for (long j = 0; j < cols; j++) {
                int a = Math.toIntExact(from + (i * cols + j) * es), b = Math.toIntExact(to + (j * rows + i) * es);
                for (int k = 0; k < es; k++) dst[b + k] = in.get(a + k);
            }
        }
    }

    /** The E2M1 values of the 16 nibbles (sign bit 3, then two exponent bits and one mantissa bit). */
    static final float[] FP4_VALUES = {+0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};

    /**
     * Dequantizes MXFP4 (HF integrations/mxfp4.py, convert_moe_packed_tensors): row r of the
     * canonical (…, R, C) takes its C/32 blocks of 16 bytes from blocks[…, r, g, ·]; byte j of block g
     * holds elements 32g + 2j (low nibble) and 32g + 2j + 1 (high nibble); each block is scaled by
     * 2^(scales[…, r, g] − 127). Done one row-slab of dimension 0 at a time, in F32, then rounded
     * to the tensor's dtype (exact for F32 and BF16, whose 8 exponent bits hold every E8M0 scale).
     */
    private static void loadMxfp4(TensorSource src, WeightRule r, Tensor t) {
        ByteBuffer blocks = src.buffer(r.sources().get(0)), scales = src.buffer(r.sources().get(1));
        long[] shape = r.shape();
        long slabs = shape[0], perSlab = t.numel() / slabs;
        int n = Math.toIntExact(perSlab), groups = n / WeightRule.MXFP4_BLOCK;
        float[] out = new float[n];
        for (long e = 0; e < slabs; e++) {
            for (int g = 0; g < groups; g++) {
                long block = e * groups + g;
                int exp = (scales.get(Math.toIntExact(block)) & 0xFF) - 127;
                int at = Math.toIntExact(block * (WeightRule.MXFP4_BLOCK / 2));
                for (int j = 0; j < WeightRule.MXFP4_BLOCK / 2; j++) {
                    int b = blocks.get(at + j) & 0xFF;
                    out[g * WeightRule.MXFP4_BLOCK + 2 * j] = Math.scalb(FP4_VALUES[b & 0x0F], exp);
                    out[g * WeightRule.MXFP4_BLOCK + 2 * j + 1] = Math.scalb(FP4_VALUES[b >>> 4], exp);
                }
            }
            try (Tensor view = t.narrow(e, 1)) {
                view.copyFrom(out);
            }
        }
    }

    /** The checkpoint tensor's bytes in {@code dtype}'s storage format: the mapped buffer itself when the dtypes agree. */
    private static ByteBuffer bytesAs(TensorSource src, String name, DType dtype) {
        TensorInfo info = src.info(name);
        if (info.dtype().name().equals(dtype.name())) return src.buffer(name).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = src.toFloatArray(name);
        ByteBuffer b = ByteBuffer.allocate(f.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(dev.braindrip.tensor.Half.f32ToBf16(v));
                case F16 -> b.putShort(dev.braindrip.tensor.Half.f32ToF16(v));
                default -> throw new IllegalArgumentException("model dtype must be F32, F16 or BF16, not " + dtype);
            }
        }
        b.flip();
        return b;
    }

    // ---- save

    /**
     * Writes every rule's checkpoint tensors (the inverse transforms) in the model dtype, also for
     * tensors kept in a dtype of their own (F32 sinks of a BF16 model are written BF16, exactly as
     * loaded). MXFP4 rules cannot be written: pass the dense rules (an architecture's rules for
     * no checkpoint names), which write the dequantized experts.
     */
    public SafeTensorsWriter writer(List<WeightRule> rules) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        SafeTensorsDType st = SafeTensorsDType.valueOf(dtype.name());
        int es = dtype.bytes();
        Map<String, byte[]> fused = new LinkedHashMap<>();   // TRANSPOSE_PART targets, filled part by part
        Map<String, long[]> fusedShape = new LinkedHashMap<>();
        for (WeightRule r : rules) {
            if (r.kind() == WeightRule.Kind.MXFP4) {
                throw new IllegalArgumentException("weight rule " + r.name() + ": MXFP4 is load-only; save writes the dense rules");
            }
            byte[] raw = rawBytes(get(r.name()), dtype);
            switch (r.kind()) {
                case COPY -> w.add(r.sources().get(0), st, r.sourceShape(), ByteBuffer.wrap(raw));
                case CONCAT -> {
                    int n = r.sources().size(), chunk = raw.length / n;
                    for (int i = 0; i < n; i++) {
                        w.add(r.sources().get(i), st, r.sourceShape(), ByteBuffer.wrap(Arrays.copyOfRange(raw, i * chunk, (i + 1) * chunk)));
                    }
                }
                case PART -> {
                    String name = r.sources().get(0);
                    byte[] dst = fused.computeIfAbsent(name, k -> new byte[Math.toIntExact(r.sourceShape()[0] * es)]);
                    fusedShape.put(name, r.sourceShape());
                    System.arraycopy(raw, 0, dst, r.part() * raw.length, raw.length);
                }
                case TRANSPOSE_LAST2 -> {
                    long[] s = r.sourceShape(), c = r.shape();
                    int matrix = Math.toIntExact(c[1] * c[2] * es);
                    byte[] dst = new byte[raw.length];
                    ByteBuffer in = ByteBuffer.wrap(raw);
                    for (int e = 0; e < c[0]; e++) transposeMatrix(in, (long) e * matrix, dst, e * matrix, c[1], c[2], es);
                    w.add(r.sources().get(0), st, s, ByteBuffer.wrap(dst));
                }
                case MXFP4 -> throw new IllegalStateException("unreachable");
                case UNINTERLEAVE, GROUPED_ROWS -> {
                    // rows back to where the checkpoint keeps them; GROUPED_ROWS rules of one tensor fill it together
                    long[] s = r.sourceShape();
                    String name = r.sources().get(0);
                    boolean whole = r.kind() == WeightRule.Kind.UNINTERLEAVE;
                    byte[] dst = whole ? new byte[raw.length] : fused.computeIfAbsent(name, k -> new byte[Math.toIntExact(numel(s) * es)]);
                    int row = Math.toIntExact(raw.length / r.shape()[0]);
                    for (long i = 0; i < r.shape()[0]; i++) System.arraycopy(raw, Math.toIntExact(i * row), dst, Math.toIntExact(r.sourceRow(i) * row), row);
                    if (whole) w.add(name, st, s, ByteBuffer.wrap(dst));
                    else fusedShape.put(name, s);
                }
                case TRANSPOSE, TRANSPOSE_PART -> {
                    long[] s = r.sourceShape();
                    String name = r.sources().get(0);
                    byte[] dst = fused.computeIfAbsent(name, k -> new byte[Math.toIntExact(s[0] * s[1] * es)]);
                    fusedShape.put(name, s);
                    long out0 = r.shape()[0], in0 = r.shape()[1], col0 = (long) r.part() * out0;
                    for (long i = 0; i < in0; i++) {
                        for (long o = 0; o < out0; o++) {
                            int to = Math.toIntExact((i * s[1] + col0 + o) * es), from = Math.toIntExact((o * in0 + i) * es);
                            System.arraycopy(raw, from, dst, to, es);
                        }
                    }
                }
            }
        }
        for (Map.Entry<String, byte[]> e : fused.entrySet()) w.add(e.getKey(), st, fusedShape.get(e.getKey()), ByteBuffer.wrap(e.getValue()));
        return w;
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** The tensor's elements in {@code as}'s storage format (converted when the tensor is kept in another dtype). */
    private static byte[] rawBytes(Tensor t, DType as) {
        if (t.dtype() != as) {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.numel() * as.bytes())).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.toFloatArray()) {
                switch (as) {
                    case F32 -> b.putFloat(v);
                    case BF16 -> b.putShort(dev.braindrip.tensor.Half.f32ToBf16(v));
                    case F16 -> b.putShort(dev.braindrip.tensor.Half.f32ToF16(v));
                    default -> throw new IllegalStateException("model dtype " + as + " is not a float type");
                }
            }
            return b.array();
        }
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case F32 -> { for (float v : t.toFloatArray()) b.putFloat(v); }
            case F16, BF16 -> { for (short v : t.toShortArray()) b.putShort(v); }
            default -> throw new IllegalStateException("weight " + t + " is not a float tensor");
        }
        return b.array();
    }
}
