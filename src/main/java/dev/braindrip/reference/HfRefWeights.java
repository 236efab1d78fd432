package dev.braindrip.reference;

/**
 * Weights by Hugging Face tensor name, for {@link HfReference}.
 *
 * <p>{@link #get} returns the tensor's values in row-major order (C order, as safetensors stores
 * them), converted to double; it throws {@link IllegalArgumentException} naming the tensor when
 * there is none of that name.
 */
public interface HfRefWeights {
    /** Whether a tensor of this name exists. */
    boolean has(String name);

    /** The tensor's shape (outermost dimension first). */
    long[] shape(String name);

    /** The tensor's values, row-major; IllegalArgumentException naming a missing tensor. */
    double[] get(String name);
}
