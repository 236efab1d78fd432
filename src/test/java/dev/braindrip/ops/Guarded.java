package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * An output placed inside a larger buffer: {@value #GUARD} sentinel bytes before and after it,
 * which a kernel must leave untouched. The output itself starts as 0xFF bytes (NaN in every float
 * type), so an element the kernel forgot to write shows as NaN.
 */
final class Guarded implements AutoCloseable {
    static final int GUARD = 256; // keeps the output 256-byte aligned, as an allocation is

    private final Tensor buffer;
    private final int bytes;

    Guarded(Arena arena, int bytes) {
        this.bytes = bytes;
        this.buffer = arena.empty("guarded", DType.U8, GUARD + bytes + GUARD);
        byte[] init = new byte[GUARD + bytes + GUARD];
        for (int i = 0; i < init.length; i++) init[i] = i >= GUARD && i < GUARD + bytes ? (byte) 0xFF : sentinel(i);
        buffer.copyFrom(init);
    }

    /** A guarded output of n elements of dtype. */
    static Guarded of(Arena arena, DType dtype, int n) {
        return new Guarded(arena, n * dtype.bytes());
    }

    private static byte sentinel(int i) {
        return (byte) (0xA5 ^ (i * 37));
    }

    /** Address of the output. */
    long address() {
        return buffer.address() + GUARD;
    }

    /** Overwrites the output with values (for in-place kernels). */
    void set(float[] values, DType dtype) {
        byte[] now = buffer.toByteArray();
        ByteBuffer bb = ByteBuffer.wrap(now, GUARD, bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> bb.putFloat(v);
                case F16 -> bb.putShort(Half.f32ToF16(v));
                case BF16 -> bb.putShort(Half.f32ToBf16(v));
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        buffer.copyFrom(now);
    }

    /** Fails naming the first changed byte if a guard was written. */
    void assertGuardsIntact(String ctx) {
        byte[] now = buffer.toByteArray();
        for (int i = 0; i < now.length; i++) {
            if (i >= GUARD && i < GUARD + bytes) continue;
            if (now[i] != sentinel(i)) {
                String where = i < GUARD ? (GUARD - i) + " byte(s) before" : (i - GUARD - bytes + 1) + " byte(s) past the end of";
                fail(ctx + ": guard byte " + where + " the output was overwritten " + Seeds.tag());
            }
        }
    }

    /** The output decoded as n values of dtype (F32, F16, BF16 or I32, widened to float). */
    float[] values(DType dtype) {
        byte[] now = buffer.toByteArray();
        ByteBuffer bb = ByteBuffer.wrap(now, GUARD, bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[bytes / dtype.bytes()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (dtype) {
                case F32 -> bb.getFloat();
                case F16 -> Half.f16ToF32(bb.getShort());
                case BF16 -> Half.bf16ToF32(bb.getShort());
                case I32 -> bb.getInt();
                default -> throw new IllegalArgumentException(dtype.toString());
            };
        }
        return out;
    }

    @Override
    public void close() {
        buffer.close();
    }
}
