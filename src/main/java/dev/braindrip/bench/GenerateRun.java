package dev.braindrip.bench;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.GeneratedToken;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Session;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The runs of one {@code bench generate} test on a {@link Generator} of exactly its batch (a KV budget
 * of B slots, one prefill call for all B prompts), greedy with EOS ignored.
 *
 * <p>The B sequences must start together and decode in lockstep, but the engine thread may wake on
 * the first submission and admit it alone. So each run first submits a one-token primer whose
 * token callback, on the engine thread, submits the B prompts: when the engine next looks at its
 * queue all B are there. The figures are the generator's own counters, read on the engine thread
 * at the first token of the first sequence (after the primer, inside the B prefill) and again when
 * the run is over; a run whose counters show anything but one prefill of B·P tokens and G − 1
 * decode steps fails rather than report a staggered batch. The total runs from the primer's
 * callback to the moment the engine has booked the last step (it completes the futures just before). The same callback reads the engine
 * thread's allocated heap bytes at the first and last token (HotSpot's per-thread counter).
 */
final class GenerateRun {
    private GenerateRun() {}

    /** One run: prefill, decode (the G − 1 steps after the first token) and total seconds, decode steps, engine heap bytes over the decode (-1: not counted). */
    record RunFigures(double prefillS, double decodeS, double totalS, long steps, long heapBytes) {}

    /** The activation arena (which also holds the KV cache) and the decode-step count, read while the engine is idle. */
    record Reading(long allocated, long peak, long pooled, int liveTensors, long decodeSteps) {
        /** Bytes the arena holds from the device: in use plus pooled for reuse. */
        long footprint() {
            return allocated + pooled;
        }

        static Reading of(Arena a, Generator g) {
            return new Reading(a.allocatedBytes(), a.peakBytes(), a.pooledBytes(), a.liveTensors(), g.stats().decodeSteps());
        }
    }

    /** The timed runs, the readings after the first run (warm-up or timed) and after the last, and the generator's KV bytes. */
    record Figures(List<RunFigures> timed, Reading afterFirst, Reading afterLast, int runs, long cacheBytes) {}

    static Figures measure(Transformer m, GenerateBench.Shape sh, int[][] prompts, BenchOptions o, long seed) {
        int b = sh.batch();
        int cap = Math.min(sh.promptTokens() + sh.genTokens(), m.config().maxPositions());
        long perSlot = Session.slotBytes(m.config(), m.dtype(), cap, null);
        GeneratorOptions opts = GeneratorOptions.defaults().maxBatch(b).maxSequenceLength(cap).maxPrefillTokens(b * sh.promptTokens())
                .kvBudgetBytes(Math.max(1, perSlot * b)).seed(seed);
        List<RunFigures> timed = new ArrayList<>();
        Reading first = null;
        try (Generator g = new Generator(m, null, opts)) {
            if (g.slots() != b) throw new IllegalStateException("bench generate: the generator gave " + g.slots() + " slots for batch " + b);
            for (int i = 0; i < o.warmup() + o.repeats(); i++) {
                RunFigures f = runOnce(g, sh, prompts);
                if (i >= o.warmup()) timed.add(f);
                if (i == 0) first = Reading.of(m.activations(), g);
            }
            return new Figures(timed, first, Reading.of(m.activations(), g), o.warmup() + o.repeats(), g.cacheBytes());
        }
    }

    /** The generator's counters at one moment. */
    private record Counters(double prefillS, double decodeS, long steps, long promptTokens) {
        static Counters of(Generator.Stats s) {
            long steps = s.decodeSteps(), prompt = s.promptTokens(); // written after the seconds: read first
            return new Counters(s.prefillSeconds(), s.decodeSeconds(), steps, prompt);
        }
    }

    /** The callback of the first sequence: counters and engine heap at its first token, heap at its last. */
    private static final class Probe implements Consumer<GeneratedToken> {
        private final Generator.Stats stats;
        private final int last;
        volatile Counters atFirst;
        volatile long heapFirst = -1, heapLast = -1;

        Probe(Generator.Stats stats, int gen) {
            this.stats = stats;
            this.last = gen - 1;
        }

        @Override
        public void accept(GeneratedToken t) {
            if (t.index() == 0) {
                heapFirst = threadHeapBytes();
                atFirst = Counters.of(stats);
            }
            if (t.index() == last) heapLast = threadHeapBytes();
        }
    }

    static RunFigures runOnce(Generator g, GenerateBench.Shape sh, int[][] prompts) {
        int b = sh.batch(), gen = sh.genTokens();
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(gen).ignoreEos(true).build();
        SamplingParams one = SamplingParams.builder().temperature(0).maxTokens(1).ignoreEos(true).build();
        Probe probe = new Probe(g.stats(), gen);
        List<CompletableFuture<Completion>> fs = new ArrayList<>(b); // filled on the engine thread before the primer completes
        long[] start = new long[1];
        CompletableFuture<Completion> primer = g.submit(Prompt.tokens(prompts[0][0]), one, t -> {
            start[0] = System.nanoTime();
            for (int r = 0; r < b; r++) fs.add(g.submit(Prompt.tokens(prompts[r]), params, r == 0 ? probe : null));
        });
        Generator.await(primer);
        for (CompletableFuture<Completion> f : fs) {
            Completion c = Generator.await(f);
            if (c.tokens().length != gen) throw new IllegalStateException("bench generate: a sequence made " + c.tokens().length + " tokens, not " + gen);
        }
        Counters before = probe.atFirst;
        Counters after = settled(g.stats(), before, (long) b * sh.promptTokens(), gen - 1);
        long end = System.nanoTime(); // after the engine booked the last step, so that the total covers the prefill and decode it counted
        long heap = probe.heapFirst < 0 || probe.heapLast < 0 ? -1 : probe.heapLast - probe.heapFirst;
        return new RunFigures(after.prefillS() - before.prefillS(), after.decodeS() - before.decodeS(), (end - start[0]) / 1e9,
                after.steps() - before.steps(), heap);
    }

    /**
     * The counters once the engine has booked the run's last prefill and step (it books a step before
     * completing its futures, so this normally returns at once); checks they show one prefill of the
     * B prompts and G − 1 lockstep steps.
     */
    private static Counters settled(Generator.Stats s, Counters before, long promptTokens, long steps) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Counters now = Counters.of(s);
        while ((now.promptTokens() - before.promptTokens() < promptTokens || now.steps() - before.steps() < steps) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            now = Counters.of(s);
        }
        if (now.promptTokens() - before.promptTokens() != promptTokens || now.steps() - before.steps() != steps) {
            throw new IllegalStateException("bench generate: the batch did not run in lockstep (" + (now.promptTokens() - before.promptTokens())
                    + " prompt tokens prefilled for " + promptTokens + ", " + (now.steps() - before.steps()) + " decode steps for " + steps + ")");
        }
        return now;
    }

    /** Heap bytes this thread has allocated so far (HotSpot's counter), or -1 where the JVM does not count them. */
    static long threadHeapBytes() {
        try {
            if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported()
                    && t.isThreadAllocatedMemoryEnabled()) {
                return t.getCurrentThreadAllocatedBytes();
            }
        } catch (NoClassDefFoundError e) {
            // a runtime without the jdk.management module
        }
        return -1;
    }
}
