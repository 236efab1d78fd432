package dev.braindrip.bench;

import dev.braindrip.tensor.Device;

/**
 * How many copies of a benchmark's inputs to rotate through so that consecutive repeats do not
 * find their inputs in cache: enough to exceed 4× the last-level cache (H200: 60 MB of L2;
 * the host: taken as 64 MB), at most 32 copies and at most 4 GiB in all.
 */
final class Rotation {
    private Rotation() {}

    static int copies(Device device, long inputBytes) {
        long cache = device.isCuda() ? 60L << 20 : 64L << 20;
        long want = (4 * cache + inputBytes - 1) / Math.max(1, inputBytes);
        long cap = Math.max(1, (4L << 30) / Math.max(1, inputBytes));
        return (int) Math.max(1, Math.min(Math.min(want, 32), cap));
    }
}
