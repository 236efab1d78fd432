package dev.braindrip.bench;

import dev.braindrip.jni.NativeCuda;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Session;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * End-to-end generation throughput (`braindrip bench generate`, CLI.md), in the manner of
 * llama-bench and llama-batched-bench: the model loaded once, then for each test a {@link
 * dev.braindrip.generate.Generator} of exactly that batch, greedy decoding with EOS ignored, warm-up
 * runs and timed repeats ({@link GenerateRun}).
 * <ul>
 *   <li>{@code pp<P>}: one prompt of P random ids, one token made; timed: the prefill (the generator's
 *       prefill seconds: the prompt forward and the choice of the first token);</li>
 *   <li>{@code tg<G>}: one prompt of a single id (llama-bench's empty context), G tokens made;
 *       timed: the G − 1 decode steps after the first token (the generator's decode seconds);</li>
 *   <li>{@code pp<P>+tg<G>} at each batch B: B prompts of P ids started together, G tokens each
 *       (llama-batched-bench's PP, TG, B): prefill tokens/s, decode tokens/s (its S_TG) and the total
 *       time; timed: the total, first submission to last completion.</li>
 * </ul>
 * A test whose prompt and output do not fit the model's positions is reported as skipped. The peer
 * is Hugging Face transformers' {@code generate} on the same checkpoint ({@link GeneratePeer}).
 */
public final class GenerateBench {
    private GenerateBench() {}

    /** The test families, as --tests names them. */
    public static final List<String> TESTS = List.of("pp", "tg", "batch");

    /**
     * What to run. {@code dtype} null: the checkpoint's own. {@code tests}: which of pp, tg and the
     * batch tests. {@code split}: also time the model's decode steps alone. {@code recompute}: also
     * time, at batch 1, greedy decoding by full recomputation (a forward over the whole sequence
     * for every new token, as generating without a cache does) at the same context.
     */
    public record Spec(Path dir, String name, Device device, DType dtype, int promptTokens, int genTokens, List<Integer> batches,
                       List<String> tests, boolean split, long seed, boolean recompute) {
        public Spec {
            if (promptTokens < 1) throw new IllegalArgumentException("--prompt-tokens (" + promptTokens + ") must be >= 1");
            if (genTokens < 2) throw new IllegalArgumentException("--gen-tokens (" + genTokens + ") must be >= 2 (decode is timed after the first token)");
            batches = List.copyOf(batches);
            for (int b : batches) if (b < 1) throw new IllegalArgumentException("--batch (" + b + ") must be >= 1");
            tests = List.copyOf(tests);
            if (tests.isEmpty()) throw new IllegalArgumentException("--tests: name at least one of " + String.join(", ", TESTS));
            for (String t : tests) {
                if (!TESTS.contains(t)) throw new IllegalArgumentException("--tests: unknown test '" + t + "' (one of " + String.join(", ", TESTS) + ")");
            }
        }

        /** Without the recomputation timing. */
        public Spec(Path dir, String name, Device device, DType dtype, int promptTokens, int genTokens, List<Integer> batches,
                    List<String> tests, boolean split, long seed) {
            this(dir, name, device, dtype, promptTokens, genTokens, batches, tests, split, seed, false);
        }

        /** All three families. */
        public Spec(Path dir, String name, Device device, DType dtype, int promptTokens, int genTokens, List<Integer> batches, boolean split,
                    long seed) {
            this(dir, name, device, dtype, promptTokens, genTokens, batches, TESTS, split, seed);
        }
    }

    /** What a test times: the prefill, the decode steps after the first token, or the whole run. */
    public enum Timed {
        PREFILL, DECODE, TOTAL;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One test: its llama-bench name, batch, prompt ids per row, tokens made per row, and what its median_ms times. */
    public record Shape(String test, int batch, int promptTokens, int genTokens, Timed timed) {
        /** The key the peer script labels its line with. */
        public String id() {
            return test + "/b" + batch;
        }

        /** Prompt and output within the positions (one past them when a single token is made: it is never fed back). */
        public boolean fits(int positions) {
            return promptTokens <= positions && (genTokens == 1 || promptTokens + genTokens <= positions);
        }

        /** An encoder-decoder's source within the positions, and its decoder's start token and output too (apart). */
        public boolean fitsEncoderDecoder(int positions) {
            return promptTokens <= positions && genTokens <= positions;
        }
    }

    /** The tests of a spec, in order: pp, tg, then one per batch (those --tests names). */
    public static List<Shape> shapes(Spec s) {
        List<Shape> out = new ArrayList<>();
        if (s.tests().contains("pp")) out.add(new Shape("pp" + s.promptTokens(), 1, s.promptTokens(), 1, Timed.PREFILL));
        if (s.tests().contains("tg")) out.add(new Shape("tg" + s.genTokens(), 1, 1, s.genTokens(), Timed.DECODE));
        if (s.tests().contains("batch")) for (int b : s.batches()) out.add(new Shape("pp" + s.promptTokens() + "+tg" + s.genTokens(), b, s.promptTokens(), s.genTokens(), Timed.TOTAL));
        return out;
    }

    /** Loads the model once, runs every test (then the peer when {@code o.peer()}), and returns one result per test. */
    public static List<GenerateResult> run(Spec s, BenchOptions o) throws IOException {
        List<GenerateResult> ours = new ArrayList<>();
        List<Shape> shapes = shapes(s);
        try (Transformer m = Transformer.load(s.dir(), s.device(), s.dtype())) {
            for (Shape sh : shapes) ours.add(measure(m, s, sh, o));
        }
        if (!o.peer() || ours.isEmpty()) return ours;
        List<Shape> runnable = new ArrayList<>();
        for (GenerateResult r : ours) if (r.skipped() == null) runnable.add(r.shape());
        String dtype = ours.get(0).dtype();
        GeneratePeer.Outcome peer = GeneratePeer.run(s.dir(), runnable, dtype, Runtime.getRuntime().availableProcessors(), o);
        List<GenerateResult> out = new ArrayList<>();
        for (GenerateResult r : ours) out.add(r.skipped() != null ? r : r.withPeer(peer.peer(r.shape()), peer.skipped(r.shape())));
        return out;
    }

    /** One test on a loaded model: skipped when it does not fit the positions, else timed. */
    static GenerateResult measure(Transformer m, Spec s, Shape sh, BenchOptions o) {
        ModelConfig c = m.config();
        String dtype = m.dtype().name().toLowerCase(Locale.ROOT);
        int threads = Runtime.getRuntime().availableProcessors();
        if (c.isEncoderDecoder() ? !sh.fitsEncoderDecoder(c.maxPositions()) : !sh.fits(c.maxPositions())) {
            String why = c.isEncoderDecoder() ? "source " + sh.promptTokens() + " or start + gen " + sh.genTokens() + " exceeds the model's "
                    + c.maxPositions() + " positions" : "prompt " + sh.promptTokens() + " + gen " + sh.genTokens() + " exceeds the model's "
                    + c.maxPositions() + " positions";
            return GenerateResult.skipped(s.name(), s.device().toString(), dtype, sh, threads, why);
        }
        int[][] prompts = prompts(sh, c.vocabSize(), s.seed());
        GenerateRun.Figures f = GenerateRun.measure(m, sh, prompts, o, s.seed());
        double forwardStepMs = s.split() && sh.genTokens() > 1 ? forwardOnlyStepMs(m, prompts, sh.genTokens(), o.repeats()) : Double.NaN;
        long[] rss = ForwardBench.rss();
        GenerateResult r = GenerateResult.of(s.name(), s.device().toString(), dtype, sh, o, f, work(m, sh), forwardStepMs, rss, threads);
        if (s.recompute() && sh.batch() == 1 && sh.genTokens() > 1) r = r.withRecompute(recomputeStepMs(m, prompts[0], sh.genTokens(), o.repeats()));
        return r;
    }

    /** B rows of P random ids (seeded, the same for every run of the test). */
    static int[][] prompts(Shape sh, int vocab, long seed) {
        SplittableRandom rng = new SplittableRandom(seed ^ ((long) sh.batch() << 32) ^ sh.promptTokens());
        int[][] rows = new int[sh.batch()][sh.promptTokens()];
        for (int[] r : rows) for (int i = 0; i < r.length; i++) r[i] = rng.nextInt(vocab);
        return rows;
    }

    /** Prefill FLOPs as bench forward counts them; a decode step's bytes read: the weights a token multiplies through and the batch's KV at the mean context. */
    static GenerateResult.Work work(Transformer m, Shape sh) {
        ModelConfig c = m.config();
        if (c.isEncoderDecoder()) return encoderDecoderWork(m, sh);
        long flopParams = ForwardBench.flopParameters(m);
        double attention = 4.0 * c.layerCount() * c.heads() * c.headDim() * (double) sh.promptTokens() * sh.promptTokens() / 2 * sh.batch();
        double flops = 2.0 * flopParams * sh.batch() * sh.promptTokens() + attention;
        // the weights a token multiplies through, in the bytes the model holds them in (a lookup-only embedding is not streamed)
        double weightRead = (double) m.weightBytes() * flopParams / Math.max(1, m.weights().parameters());
        int meanContext = sh.promptTokens() + sh.genTokens() / 2;
        long kvRead = Session.slotBytes(c, m.dtype(), meanContext, null);
        return new GenerateResult.Work(flops, weightRead + (double) kvRead * sh.batch(), m.weightBytes());
    }

    /**
     * An encoder-decoder's: prefill = the encoder over the P source tokens (bidirectional
     * attention), each decoder layer's cross keys and values of them, and the decoder on the start
     * token; a decode step reads the decoder's weights (and the head) and, per sequence, its self
     * KV at the mean decoder length and the cross KV of its P source tokens.
     */
    static GenerateResult.Work encoderDecoderWork(Transformer m, Shape sh) {
        ModelConfig c = m.config();
        double enc = 0, crossKv = 0, dec = 0;
        for (java.util.Map.Entry<String, Tensor> e : m.weights().all().entrySet()) {
            String n = e.getKey();
            long k = e.getValue().numel();
            if (n.endsWith("rel_bias")) continue;
            if (n.startsWith("enc.")) enc += k;
            else if (n.startsWith("dec.") && (n.contains(".cross.k.") || n.contains(".cross.v."))) crossKv += k;
            else if (n.startsWith("dec.") || n.equals("lm_head") || n.equals("embed") && c.tieEmbeddings()) dec += k;
        }
        double p = sh.promptTokens(), b = sh.batch(), hd = (double) c.heads() * c.headDim();
        double flops = 2.0 * (enc + crossKv) * p * b + 2.0 * dec * b + 4.0 * c.layerCount() * hd * p * p * b + 4.0 * c.decoderLayers() * hd * (1 + p) * b;
        double bytesPerParam = (double) m.weightBytes() / Math.max(1, m.weights().parameters());
        double meanDecoder = 1 + sh.genTokens() / 2.0;
        double kv = 2.0 * c.kvHeads() * c.headDim() * m.dtype().bytes() * c.decoderLayers() * (meanDecoder + p);
        return new GenerateResult.Work(flops, bytesPerParam * dec + kv * b, m.weightBytes());
    }

    /**
     * The model's own decode steps, without the generator (no sampling, no scheduling): a session of
     * the same batch prefilled with the same prompts, then G − 1 steps; the median over {@code runs}
     * of the mean ms per step.
     */
    static double forwardOnlyStepMs(Transformer m, int[][] prompts, int gen, int runs) {
        int b = prompts.length, p = prompts[0].length;
        int[] ids = new int[b];
        for (int r = 0; r < b; r++) ids[r] = prompts[r][p - 1];
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            try (Session s = m.session(b, p + gen)) {
                s.prefill(TokenBatch.of(prompts), 0).close();
                sync(m.device());
                long t0 = System.nanoTime();
                for (int k = 0; k < gen - 1; k++) s.step(ids).close();
                sync(m.device());
                ms[i] = (System.nanoTime() - t0) / 1e6 / (gen - 1);
            }
        }
        java.util.Arrays.sort(ms);
        return Timer.median(ms);
    }

    /**
     * Greedy decoding without a cache: each new token is the argmax of the last row of a forward over
     * the prompt and the tokens so far. The median over {@code runs} of the mean ms per token over
     * min(gen − 1, 16) tokens made after the first (the same context as the cached test's steps).
     */
    static double recomputeStepMs(Transformer m, int[] prompt, int gen, int runs) {
        int steps = Math.min(gen - 1, 16), v = m.config().vocabSize();
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + 1);
            seq[prompt.length] = prompt[prompt.length - 1] % v; // the first generated token (its prefill is not timed here)
            sync(m.device());
            long t0 = System.nanoTime();
            for (int k = 0; k < steps; k++) {
                float[] last;
                try (Tensor y = m.forward(TokenBatch.of(seq))) {
                    last = y.narrow(seq.length - 1, 1).toFloatArray();
                }
                int best = 0;
                for (int j = 1; j < v; j++) if (last[j] > last[best]) best = j;
                seq = java.util.Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
            sync(m.device());
            ms[i] = (System.nanoTime() - t0) / 1e6 / steps;
        }
        java.util.Arrays.sort(ms);
        return Timer.median(ms);
    }

    private static void sync(Device d) {
        if (d.isCuda()) NativeStatus.checkCuda(NativeCuda.bd_cuda_device_synchronize(), "cudaDeviceSynchronize");
    }
}
