package dev.braindrip.ops;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * The token sampler of {@link NativeOps} (native/include/braindrip/sample.h): checks the logits and
 * the batch in Java (IllegalArgumentException naming the row and what is wrong), uploads the batch's
 * two flat arrays into arena tensors (device memory on CUDA), runs the kernel on the device-resident
 * logits, and downloads one I32 array holding the ids, the logprobs and the top logprobs.
 */
final class SampleOps {
    private static final String OP = "sample";
    private static final int[] NO_IDS = new int[0];
    private static final float[] NO_LOGPROBS = new float[0];

    private final Arena arena;
    private final Kernels k;
    private final long stream;

    SampleOps(Arena arena, Kernels kernels, long stream) {
        this.arena = arena;
        this.k = kernels;
        this.stream = stream;
    }

    /** logits (rows, vocab) of a float dtype; keepProcessed: also return the processed logits F32 (rows, vocab). */
    SampleResult sample(Tensor logits, SampleBatch batch, boolean keepProcessed) {
        if (logits == null || batch == null) throw new IllegalArgumentException(OP + ": logits and batch must be given");
        logits.checkOpen();
        if (!logits.device().equals(arena.device())) throw new IllegalArgumentException(OP + ": " + logits + " is not on " + arena.device());
        if (!logits.dtype().isFloat()) throw new IllegalArgumentException(OP + ": logits are " + logits.dtype() + ", expected F32, F16 or BF16");
        if (logits.rank() != 2) {
            throw new IllegalArgumentException(OP + ": logits must be (rows, vocab), got shape " + Arrays.toString(logits.shape()));
        }
        int rows = batch.rows();
        long vocab = logits.dim(1);
        if (logits.dim(0) != rows) {
            throw new IllegalArgumentException(OP + ": logits have " + logits.dim(0) + " rows, the batch " + rows);
        }
        if (vocab < 1 || vocab > Integer.MAX_VALUE) throw new IllegalArgumentException(OP + ": vocab (" + vocab + ") must be in [1, 2^31)");
        batch.checkIds(vocab);
        int maxLp = batch.maxLogprobs();
        long wsBytes = k.sampleWorkspaceBytes(rows, vocab, maxLp);
        if (wsBytes < 0) status(NativeStatus.INVALID_ARGUMENT);
        int[] words = batch.words();
        long[] longs = batch.longs();
        long outLen = 2L * rows + 2L * rows * maxLp;
        if (outLen > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(OP + ": " + rows + " rows of " + maxLp + " logprobs exceed a Java array");
        try (Tensor w = arena.fromInts(words, words.length); Tensor l = arena.fromLongs(longs, longs.length);
             Tensor out = arena.empty("sample out", DType.I32, outLen); Tensor ws = arena.empty("sample workspace", DType.U8, wsBytes)) {
            Tensor processed = keepProcessed ? arena.empty("sample processed", DType.F32, rows, vocab) : null;
            try {
                call(logits, rows, vocab, maxLp, w.address(), l.address(), out.address(), processed, ws, batch.historyLength());
                return unpack(out.toIntArray(), batch, processed);
            } catch (RuntimeException e) {
                if (processed != null) processed.close();
                throw e;
            }
        }
    }

    private void call(Tensor logits, int rows, long vocab, int maxLp, long w, long l, long out, Tensor processed, Tensor ws,
                      int historyLen) {
        long f = 4L * rows, d = 8L * rows; // one (rows) field of words / longs
        long ids = out, lps = out + 4L * rows, topIds = out + 8L * rows, topLps = topIds + 4L * rows * maxLp;
        status(k.sample(logits.address(), logits.dtype().code(), rows, vocab, vocab,
                w + SampleBatch.TEMPERATURE * f, w + SampleBatch.TOP_K * f, w + SampleBatch.TOP_P * f, w + SampleBatch.MIN_P * f,
                w + SampleBatch.REPETITION * f, w + SampleBatch.PRESENCE * f, w + SampleBatch.FREQUENCY * f,
                l + SampleBatch.SEED * d, l + SampleBatch.STEP * d, w + SampleBatch.LOGPROBS * f,
                historyLen > 0 ? w + SampleBatch.FIELDS * f : 0L, l + SampleBatch.OFFSETS * d, w + SampleBatch.PROMPT * f, historyLen,
                ids, lps, maxLp > 0 ? topIds : 0L, maxLp > 0 ? topLps : 0L, maxLp, processed == null ? 0L : processed.address(),
                ws.address(), ws.bytes(), 0 /* checked above */, stream));
    }

    /** out: ids (rows), logprob bits (rows), top ids (rows, maxLp), top logprob bits (rows, maxLp). */
    private static SampleResult unpack(int[] out, SampleBatch batch, Tensor processed) {
        int rows = batch.rows(), maxLp = batch.maxLogprobs();
        int[] ids = Arrays.copyOf(out, rows);
        float[] logprobs = new float[rows];
        int[][] topIds = new int[rows][];
        float[][] topLps = new float[rows][];
        int topBase = 2 * rows, lpBase = topBase + rows * maxLp;
        for (int r = 0; r < rows; r++) {
            logprobs[r] = Float.intBitsToFloat(out[rows + r]);
            int n = batch.logprobs(r);
            if (n == 0) {
                topIds[r] = NO_IDS;
                topLps[r] = NO_LOGPROBS;
                continue;
            }
            topIds[r] = Arrays.copyOfRange(out, topBase + r * maxLp, topBase + r * maxLp + n);
            topLps[r] = new float[n];
            for (int j = 0; j < n; j++) topLps[r][j] = Float.intBitsToFloat(out[lpBase + r * maxLp + j]);
        }
        return new SampleResult(ids, logprobs, topIds, topLps, processed);
    }

    private void status(int status) {
        if (status == NativeStatus.OK) return;
        if (k.isCuda()) NativeStatus.checkCuda(status, OP);
        else NativeStatus.checkCpu(status, OP);
    }
}
