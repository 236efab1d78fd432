package dev.braindrip.jni;

import java.nio.ByteBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/** Conversions between raw addresses and JavaCPP pointers; the only place above C that sees a Pointer. */
public final class Addresses {
    private Addresses() {}

    /** Address of the first remaining byte of a direct (or memory-mapped) buffer. */
    public static long of(ByteBuffer direct) {
        if (!direct.isDirect()) throw new IllegalArgumentException("buffer must be direct (or memory-mapped)");
        try (BytePointer p = new BytePointer(direct)) {
            return p.address() + p.position();
        }
    }

    /** A non-owning JavaCPP pointer at an address (for the BLAS presets). */
    public static Pointer pointer(long address) {
        return new RawPointer(address);
    }

    private static final class RawPointer extends Pointer {
        RawPointer(long address) {
            this.address = address;
        }
    }
}
