package dev.braindrip.ops.moe;

import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;
import java.util.function.IntSupplier;

/** Argument checks of the MoE and MoD classes: every message names the op, the tensor and the mismatch. */
final class MoeChecks {
    private MoeChecks() {}

    /** t has exactly the shape {@code want}; {@code layout} names the dimensions, e.g. "(E, F, H)". */
    static void shape(String op, String name, Tensor t, String layout, long... want) {
        if (!Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException(op + ": " + name + " must have shape " + Arrays.toString(want) + " " + layout + ", got "
                    + Arrays.toString(t.shape()));
        }
    }

    static void rank(String op, String name, Tensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + name + " must be " + layout + ", got shape " + Arrays.toString(t.shape()));
        }
    }

    static void dtype(String op, String name, Tensor t, DType want) {
        if (t.dtype() != want) throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + ", expected " + want);
    }

    static void floatDType(String op, String name, Tensor t) {
        if (!t.dtype().isFloat()) throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + ", expected F32, F16 or BF16");
    }

    /** Open and on {@code device}; null tensors are skipped. */
    static void onDevice(String op, Device device, String name, Tensor t) {
        if (t == null) return;
        t.checkOpen();
        if (!t.device().equals(device)) throw new IllegalArgumentException(op + ": " + name + " is on " + t.device() + ", not on " + device);
    }

    /** router_bias: only for routings that take one, shape (E), F32 (routing is F32 throughout). */
    static void routerBias(String op, MoeConfig c, Tensor bias) {
        if (bias == null) return;
        if (!c.routing().takesBias()) {
            throw new IllegalArgumentException(op + ": router_bias is not used by routing " + c.routing()
                    + " (only TOPK_SOFTMAX and SIGMOID_GROUPED take one)");
        }
        shape(op, "router_bias", bias, "(E)", c.experts());
        dtype(op, "router_bias", bias, DType.F32);
    }

    static long address(Tensor t) {
        return t == null ? 0L : t.address();
    }

    static void status(MoeKernels k, int status, String op) {
        if (status == NativeStatus.OK) return;
        if (k.isCuda()) NativeStatus.checkCuda(status, op);
        else NativeStatus.checkCpu(status, op);
    }

    /** Runs a kernel that fills {@code out}; frees {@code out} and throws if it fails. */
    static Tensor run(MoeKernels k, Tensor out, String op, IntSupplier call) {
        try {
            status(k, call.getAsInt(), op);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Closes every non-null tensor, keeping the first failure as the thrown one. */
    static void closeAll(AutoCloseable... ts) {
        for (AutoCloseable t : ts) {
            if (t == null) continue;
            try {
                t.close();
            } catch (Exception ignored) {
                // closing on an error path: the original exception is the one to report
            }
        }
    }
}
