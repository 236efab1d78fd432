package dev.braindrip.ops;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * One backend-test case in the manner of ggml's test-backend-ops: an op, a shape, a dtype and its
 * parameters. {@link #check} makes seeded inputs, runs the op through {@link Ops}, and compares the
 * output with {@link Reference} (NaN/Inf first, then NMSE against {@link Tolerance}); the oracle
 * always gets the values the input tensors actually hold.
 */
interface OpCase {
    String op();

    DType dtype();

    /** Shape and parameters, for the case's name. */
    String params();

    /** Runs the case on {@code ops}; throws AssertionError on a mismatch. */
    void check(Ops ops, Inputs in);

    default String name() {
        return op() + " " + dtype() + " " + params();
    }

    /** Message prefix naming the case and the device. */
    static String ctx(OpCase c, Ops ops) {
        return c.name() + " on " + ops.device();
    }

    /** The values a tensor holds, widened to double: what the oracle gets. */
    static double[] held(Tensor t) {
        return Reference.toDouble(t.toFloatArray());
    }

    static int numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return Math.toIntExact(n);
    }

    static String shape(long[] shape) {
        return Arrays.toString(shape).replace(" ", "");
    }
}
