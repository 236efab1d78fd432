package dev.braindrip.bench;

import dev.braindrip.jni.Kernels;
import dev.braindrip.jni.NativeCpu;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The cost of one op call on a tiny tensor (BENCHMARKS.md: rmsnorm on 1 × 64), which bounds the
 * decode of small models: the whole public call ({@code Ops.rmsnorm(x, w, eps)} then closing the
 * output) and its parts, each timed alone over batches of calls (System.nanoTime around a batch;
 * median over the repeats, in µs per call):
 * <ul>
 *   <li>{@code jni_us}: the kernel's JNI entry with zero rows (the native argument checks run, no
 *       kernel, no thread team);</li>
 *   <li>{@code kernel_us}: the kernel through {@link Kernels} on preallocated tensors (JNI, native
 *       checks, the loop and, where the kernel opens one, the OpenMP parallel region);</li>
 *   <li>{@code kernel_1t_us}: the same with the OpenMP team limited to one thread, so
 *       {@code kernel_us − kernel_1t_us} is the cost of forking a team for a tiny tensor;</li>
 *   <li>{@code arena_us}: one {@code arena.empty} of the output's shape and its {@code close};</li>
 *   <li>{@code checks_us}: what is left, the op's Java argument checks and wrapping
 *       ({@code op − kernel − arena}).</li>
 * </ul>
 * CPU only: on a GPU the call is asynchronous and its cost is the launch, which {@code bench} of
 * the other families already includes.
 */
public final class OverheadBench {
    /** Calls per timed batch: long enough for nanoTime, short enough for many repeats. */
    static final int CALLS = 2_000;

    private OverheadBench() {}

    /** rmsnorm 1 × 64 (the standard row) and add 1 × 64 (an op without a thread team); none on a GPU. */
    public static List<Map<String, Object>> standardShapes(Device device) {
        if (!device.isCpu()) return List.of();
        return List.of(OpBench.shape("fn", "rmsnorm", "rows", 1, "cols", 64), OpBench.shape("fn", "add", "rows", 1, "cols", 64));
    }

    public static BenchResult run(Map<String, Object> shape, Device device, DType dtype, BenchOptions o) {
        if (!device.isCpu()) throw new IllegalArgumentException("bench overhead: CPU only (on a GPU a call is an asynchronous launch)");
        String fn = String.valueOf(shape.getOrDefault("fn", "rmsnorm"));
        if (!fn.equals("rmsnorm") && !fn.equals("add")) throw new IllegalArgumentException("bench overhead: fn '" + fn + "' must be rmsnorm or add");
        int rows = ((Number) shape.get("rows")).intValue(), cols = ((Number) shape.get("cols")).intValue();
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("bench overhead: rows and cols must be >= 1");
        boolean norm = fn.equals("rmsnorm");
        try (Arena arena = Arena.on(device, 64L << 20)) {
            Ops ops = Ops.on(arena);
            Kernels k = Kernels.CPU;
            Tensor x = arena.uniform(dtype, -1f, 1f, rows, cols), w = arena.uniform(dtype, 0.5f, 1.5f, cols);
            Tensor y = arena.empty(dtype, rows, cols);
            long xa = x.address(), wa = w.address(), ya = y.address(), n = (long) rows * cols;
            int dt = dtype.code();
            Runnable op = norm ? () -> ops.rmsnorm(x, w, 1e-6f).close() : () -> ops.add(x, x).close(); // add: x + x
            Runnable kernel = norm ? () -> check(k.rmsnorm(xa, wa, ya, rows, cols, 1e-6f, dt, 0L), k)
                    : () -> check(k.add(xa, xa, ya, n, dt, 0L), k);
            Runnable jni = norm ? () -> check(k.rmsnorm(xa, wa, ya, 0, cols, 1e-6f, dt, 0L), k)
                    : () -> check(k.add(xa, xa, ya, 0, dt, 0L), k);
            Runnable alloc = () -> arena.empty(dtype, rows, cols).close();
            int warm = Math.max(5, o.warmup() * 5); // batches: enough calls for the JIT to compile every path
            double opUs = perCall(op, warm, o.repeats());
            double kernelUs = perCall(kernel, warm, o.repeats());
            double jniUs = perCall(jni, warm, o.repeats());
            double allocUs = perCall(alloc, warm, o.repeats());
            int threads = NativeCpu.bd_cpu_threads();
            double kernel1Us;
            NativeCpu.bd_cpu_set_threads(1);
            try {
                kernel1Us = perCall(kernel, warm, o.repeats());
            } finally {
                NativeCpu.bd_cpu_set_threads(threads);
            }
            Map<String, Object> sh = new LinkedHashMap<>(shape);
            sh.put("fn", fn);
            Map<String, Object> extras = new LinkedHashMap<>();
            extras.put("us_per_call", opUs);
            extras.put("jni_us", jniUs);
            extras.put("kernel_us", kernelUs);
            extras.put("kernel_1t_us", kernel1Us);
            extras.put("arena_us", allocUs);
            extras.put("checks_us", Math.max(0, opUs - kernelUs - allocUs));
            extras.put("threads", threads);
            String note = String.format(Locale.ROOT,
                    "%.2f us per call = kernel %.2f (JNI + native checks %.2f, team of %d vs 1 thread %+.2f) + arena %.2f + Java checks %.2f",
                    opUs, kernelUs, jniUs, threads, kernelUs - kernel1Us, allocUs, Math.max(0, opUs - kernelUs - allocUs));
            double bytes = (norm ? 2.0 * n + cols : 3.0 * n) * dtype.bytes();
            BenchResult r = new BenchResult("overhead", device.toString(), dtype.name().toLowerCase(Locale.ROOT), sh, opUs / 1e3, opUs / 1e3,
                    o.repeats(), 0, bytes, null, note, extras);
            arena.releaseAll();
            return r;
        }
    }

    private static void check(int status, Kernels k) {
        if (status != 0) throw new IllegalStateException("overhead: kernel failed: " + k.lastError());
    }

    /** Median over {@code repeats} batches of {@link #CALLS} calls, in µs per call, after {@code warm} batches. */
    static double perCall(Runnable body, int warm, int repeats) {
        double[] ms = Timer.time(Device.cpu(), warm, repeats, i -> {
            for (int c = 0; c < CALLS; c++) body.run();
        });
        return Timer.median(ms) * 1e3 / CALLS;
    }
}
