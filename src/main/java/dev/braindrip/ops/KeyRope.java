package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/**
 * RoPE applied by the kernel to each key as it is loaded: split-half (HF rotate_half) over the
 * whole head dim, key slot j rotated to {@code positions[b, j]} (I32, (B, capacity)) with base
 * {@code theta}; the rotated key is rounded to the storage type before Q·K. A cache that stores
 * keys before RoPE (StreamingLLM's sink + window cache) uses it to re-assign positions in-cache.
 */
public record KeyRope(Tensor positions, float theta) {
    public KeyRope {
        if (positions == null) throw new IllegalArgumentException("key rope: positions must be given");
        if (!(theta > 0) || Float.isInfinite(theta)) throw new IllegalArgumentException("key rope: theta (" + theta + ") must be finite and > 0");
    }
}
