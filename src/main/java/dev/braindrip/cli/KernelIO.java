package dev.braindrip.cli;

import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsDType;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.io.TensorInfo;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Moves the named tensors of `braindrip kernel` between safetensors files and an arena:
 * float inputs (F32, F16, BF16) become tensors of the compute dtype, index inputs stay I32/I64;
 * float outputs are written as F32 and index outputs as I32, whatever the compute dtype.
 */
final class KernelIO implements AutoCloseable {
    private final String op;
    private final Path inPath;
    private final SafeTensors in;
    private final Arena arena;
    private final DType dtype;
    private final Map<String, Tensor> outputs = new LinkedHashMap<>();

    KernelIO(String op, Path inPath, Arena arena, DType dtype) throws IOException {
        this.op = op;
        this.inPath = inPath;
        this.in = SafeTensors.open(inPath);
        this.arena = arena;
        this.dtype = dtype;
    }

    boolean has(String name) {
        return in.names().contains(name);
    }

    /** A float input converted to the compute dtype; throws naming the op and file when missing. */
    Tensor floats(String name) throws IOException {
        return floats(name, dtype);
    }

    /** A float input converted to {@code as} whatever the compute dtype (e.g. F32 learned attention sinks). */
    Tensor floats(String name, DType as) throws IOException {
        require(name);
        TensorInfo info = in.info(name);
        SafeTensorsDType t = info.dtype();
        if (t != SafeTensorsDType.F32 && t != SafeTensorsDType.F16 && t != SafeTensorsDType.BF16) {
            throw new IllegalArgumentException(op + ": input '" + name + "' is " + t + ", expected F32, F16 or BF16");
        }
        return arena.fromFloats(in.toFloatArray(name), as, info.shape());
    }

    /** An optional float input, or null. */
    Tensor floatsOrNull(String name) throws IOException {
        return has(name) ? floats(name) : null;
    }

    /** An optional float input kept in F32 whatever the compute dtype (routing biases), or null. */
    Tensor floatsF32OrNull(String name) throws IOException {
        return has(name) ? floats(name, DType.F32) : null;
    }

    /** An index input (I32 or I64 kept as is). */
    Tensor indices(String name) throws IOException {
        require(name);
        TensorInfo info = in.info(name);
        if (info.dtype() == SafeTensorsDType.I32) return arena.fromInts(in.toIntArray(name), info.shape());
        if (info.dtype() == SafeTensorsDType.I64) return arena.fromLongs(in.toLongArray(name), info.shape());
        throw new IllegalArgumentException(op + ": input '" + name + "' is " + info.dtype() + ", expected I32 or I64");
    }

    /** A byte input (U8 or BOOL) as a U8 tensor, e.g. a block-sparse layout mask. */
    Tensor bytes(String name) {
        require(name);
        TensorInfo info = in.info(name);
        if (info.dtype() != SafeTensorsDType.U8 && info.dtype() != SafeTensorsDType.BOOL) {
            throw new IllegalArgumentException(op + ": input '" + name + "' is " + info.dtype() + ", expected U8 (or BOOL)");
        }
        java.nio.ByteBuffer buf = in.buffer(name);
        byte[] data = new byte[buf.remaining()];
        buf.get(data);
        Tensor t = arena.empty(name, DType.U8, info.shape());
        try {
            return t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Expects a rank; message names the input and what it should be. */
    static void expectRank(String op, String name, Tensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": input '" + name + "' must be " + layout + ", got shape " + Arrays.toString(t.shape()));
        }
    }

    void output(String name, Tensor t) {
        outputs.put(name, t);
    }

    void write(Path out) throws IOException {
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (Map.Entry<String, Tensor> e : outputs.entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype().isFloat()) w.addF32(e.getKey(), t.shape(), t.toFloatArray());
            else if (t.dtype() == DType.I32) w.addI32(e.getKey(), t.shape(), t.toIntArray());
            else if (t.dtype() == DType.I64) w.addI64(e.getKey(), t.shape(), t.toLongArray());
            else throw new IllegalStateException(op + ": cannot write output '" + e.getKey() + "' of " + t.dtype());
        }
        w.write(out);
    }

    private void require(String name) {
        if (!has(name)) {
            throw new IllegalArgumentException(op + ": input '" + name + "' not found in " + inPath + " (it has: "
                    + String.join(", ", in.names()) + ")");
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
