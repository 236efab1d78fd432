package dev.braindrip.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * One {@code bench generate} test: the medians (and minimums) of its runs' prefill, decode and
 * total times, what they give in tokens/s, the memory readings, and the peer's figures beside
 * them; or why it was skipped. {@link #row()} is its --json object.
 */
public record GenerateResult(String model, String device, String dtype, GenerateBench.Shape shape, int threads, int repeats, int warmup,
                             Times times, Memory memory, Work work, double forwardStepMs, GeneratePeer.Figures peer, String peerSkipped,
                             String skipped, double recomputeMsPerStep) {

    /** Medians and minimums over the timed runs (ms); decode steps per run; engine-thread heap bytes per decode step (NaN: not counted). */
    public record Times(double prefillMs, double prefillMinMs, double decodeMs, double decodeMinMs, double totalMs, double totalMinMs, long steps,
                        double heapBytesPerStep) {
        static Times of(List<GenerateRun.RunFigures> runs) {
            long steps = runs.get(0).steps();
            double[] heap = runs.stream().filter(r -> r.heapBytes() >= 0 && r.steps() > 0).mapToDouble(r -> (double) r.heapBytes() / r.steps())
                    .sorted().toArray();
            return new Times(median(runs, GenerateRun.RunFigures::prefillS), min(runs, GenerateRun.RunFigures::prefillS),
                    median(runs, GenerateRun.RunFigures::decodeS), min(runs, GenerateRun.RunFigures::decodeS),
                    median(runs, GenerateRun.RunFigures::totalS), min(runs, GenerateRun.RunFigures::totalS), steps,
                    heap.length == 0 ? Double.NaN : Timer.median(heap));
        }

        private static double median(List<GenerateRun.RunFigures> runs, ToDoubleFunction<GenerateRun.RunFigures> f) {
            return Timer.median(runs.stream().mapToDouble(f).map(s -> s * 1e3).sorted().toArray());
        }

        private static double min(List<GenerateRun.RunFigures> runs, ToDoubleFunction<GenerateRun.RunFigures> f) {
            return runs.stream().mapToDouble(f).map(s -> s * 1e3).min().orElse(Double.NaN);
        }
    }

    /**
     * The activation arena (it also holds the KV cache) after the first run and after the last: bytes
     * in use, the peak since the model was loaded, bytes pooled for reuse, tensors alive; the growth
     * of what it holds from the device (in use + pooled) between the two readings, over the decode
     * steps between them; the generator's KV bytes, the runs, and this process's RSS and peak RSS.
     */
    public record Memory(long allocatedAfter1, long allocated, long peakAfter1, long peak, long pooledAfter1, long pooled, int liveTensors,
                         long growthBytes, long growthSteps, long kvCacheBytes, int runs, long rssBytes, long rssPeakBytes) {
        static Memory of(GenerateRun.Figures f, long[] rss) {
            GenerateRun.Reading a = f.afterFirst(), b = f.afterLast();
            return new Memory(a.allocated(), b.allocated(), a.peak(), b.peak(), a.pooled(), b.pooled(), b.liveTensors(),
                    b.footprint() - a.footprint(), b.decodeSteps() - a.decodeSteps(), f.cacheBytes(), f.runs(), rss[0], rss[1]);
        }

        /** Device bytes the arena gained per decode step after the first run (NaN without decode steps). */
        public double growthBytesPerStep() {
            return growthSteps > 0 ? (double) growthBytes / growthSteps : Double.NaN;
        }
    }

    /** Counted work: the prefill's FLOPs (as bench forward counts them), the bytes one decode step reads (weights + the mean KV context of the batch). */
    public record Work(double prefillFlops, double decodeStepBytes, long weightBytes) {}

    static GenerateResult of(String model, String device, String dtype, GenerateBench.Shape shape, BenchOptions o, GenerateRun.Figures f,
                             Work w, double forwardStepMs, long[] rss, int threads) {
        return new GenerateResult(model, device, dtype, shape, threads, o.repeats(), o.warmup(), Times.of(f.timed()), Memory.of(f, rss), w,
                forwardStepMs, null, null, null, Double.NaN);
    }

    static GenerateResult skipped(String model, String device, String dtype, GenerateBench.Shape shape, int threads, String why) {
        return new GenerateResult(model, device, dtype, shape, threads, 0, 0, null, null, null, Double.NaN, null, null, why, Double.NaN);
    }

    GenerateResult withPeer(GeneratePeer.Figures p, String why) {
        return new GenerateResult(model, device, dtype, shape, threads, repeats, warmup, times, memory, work, forwardStepMs, p, why, skipped,
                recomputeMsPerStep);
    }

    /** With the ms per token of greedy decoding by full recomputation at the same context (GenerateBench.recomputeStepMs). */
    GenerateResult withRecompute(double ms) {
        return new GenerateResult(model, device, dtype, shape, threads, repeats, warmup, times, memory, work, forwardStepMs, peer, peerSkipped,
                skipped, ms);
    }

    // ---- derived figures

    /** The median of what the test times (prefill for pp, decode for tg, the whole run for the batch tests). */
    public double medianMs() {
        return switch (shape.timed()) {
            case PREFILL -> times.prefillMs();
            case DECODE -> times.decodeMs();
            case TOTAL -> times.totalMs();
        };
    }

    public double minMs() {
        return switch (shape.timed()) {
            case PREFILL -> times.prefillMinMs();
            case DECODE -> times.decodeMinMs();
            case TOTAL -> times.totalMinMs();
        };
    }

    /** Prompt tokens / prefill seconds (NaN for tg, whose prompt is one id). */
    public double prefillTokS() {
        return shape.timed() == GenerateBench.Timed.DECODE ? Double.NaN : (double) shape.batch() * shape.promptTokens() / (times.prefillMs() * 1e-3);
    }

    /** Tokens made by the decode steps / decode seconds: B · (G − 1) / decode s, llama-batched-bench's S_TG (NaN for pp). */
    public double decodeTokS() {
        return times.steps() == 0 ? Double.NaN : (double) shape.batch() * times.steps() / (times.decodeMs() * 1e-3);
    }

    /** Mean milliseconds per decode step (NaN for pp). */
    public double msPerStep() {
        return times.steps() == 0 ? Double.NaN : times.decodeMs() / times.steps();
    }

    /** Prompt and generated tokens / total seconds (llama-batched-bench's S). */
    public double totalTokS() {
        return (double) shape.batch() * (shape.promptTokens() + shape.genTokens()) / (times.totalMs() * 1e-3);
    }

    /** pp: prefill TFLOP/s; NaN otherwise. */
    public double tflops() {
        return shape.timed() == GenerateBench.Timed.PREFILL ? work.prefillFlops() / (times.prefillMs() * 1e-3) / 1e12 : Double.NaN;
    }

    /** Decode tests: bytes read per step (weights + KV) / step time, in GB/s; NaN for pp. */
    public double gbps() {
        return times.steps() == 0 ? Double.NaN : work.decodeStepBytes() / (msPerStep() * 1e-3) / 1e9;
    }

    /** The peer's time over ours for what the test times (above 1: we are faster). */
    public double speedupVsPeer() {
        return peer == null ? Double.NaN : peer.medianMs(shape.timed()) / medianMs();
    }

    /** Our decode tokens/s over the peer's, from the two decode times of the same tokens (NaN for pp or without a peer). */
    public double decodeVsPeer() {
        return peer == null || times.steps() == 0 ? Double.NaN : peer.decodeMs() / times.decodeMs();
    }

    /** Our prefill tokens/s over the peer's, from the two prefill times (NaN for tg or without a peer). */
    public double prefillVsPeer() {
        return peer == null || shape.timed() == GenerateBench.Timed.DECODE ? Double.NaN : peer.prefillMs() / times.prefillMs();
    }

    // ---- --json

    /** The --json row: the common bench fields, then the generate-specific ones (NaN written as null). */
    public Map<String, Object> row() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("op", "generate");
        o.put("device", device);
        o.put("dtype", dtype);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", model);
        s.put("batch", shape.batch());
        s.put("prompt_tokens", shape.promptTokens());
        s.put("gen_tokens", shape.genTokens());
        o.put("shape", s);
        o.put("test", shape.test());
        o.put("timed", shape.timed().label());
        o.put("median_ms", num(medianMs()));
        o.put("min_ms", num(minMs()));
        o.put("repeats", repeats);
        o.put("warmup", warmup);
        o.put("tflops", num(tflops()));
        o.put("gbps", num(gbps()));
        o.put("prefill_tok_s", num(prefillTokS()));
        o.put("decode_tok_s", num(decodeTokS()));
        o.put("peer", peerRow());
        if (peerSkipped != null) o.put("peer_skipped", peerSkipped);
        o.put("speedup_vs_peer", num(speedupVsPeer()));
        o.put("decode_vs_peer", num(decodeVsPeer()));
        putTimes(o);
        putMemory(o);
        o.put("threads", threads);
        return o;
    }

    private Map<String, Object> peerRow() {
        if (peer == null) return null;
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", peer.name());
        p.put("median_ms", num(peer.medianMs(shape.timed())));
        p.put("min_ms", num(peer.minMs(shape.timed())));
        p.put("prefill_tok_s", num(shape.timed() == GenerateBench.Timed.DECODE ? Double.NaN : peer.prefillTokS()));
        p.put("decode_tok_s", num(peer.decodeTokS()));
        p.put("prefill_ms", num(peer.prefillMs()));
        p.put("decode_ms", num(peer.decodeMs()));
        p.put("total_ms", num(peer.totalMs()));
        p.put("repeats", peer.repeats());
        p.put("device", peer.device());
        p.put("dtype", peer.dtype());
        p.put("attention", peer.attention());
        return p;
    }

    private void putTimes(Map<String, Object> o) {
        o.put("prefill_ms", num(times.prefillMs()));
        o.put("decode_ms", num(times.decodeMs()));
        o.put("total_ms", num(times.totalMs()));
        o.put("total_tok_s", num(totalTokS()));
        o.put("decode_steps", times.steps());
        o.put("ms_per_step", num(msPerStep()));
        o.put("forward_ms_per_step", num(forwardStepMs));
        o.put("other_ms_per_step", num(msPerStep() - forwardStepMs));
        o.put("recompute_ms_per_step", num(recomputeMsPerStep));
        o.put("cached_speedup_vs_recompute", num(recomputeMsPerStep / msPerStep()));
        o.put("prefill_flops", work.prefillFlops());
        o.put("decode_step_bytes", num(times.steps() == 0 ? Double.NaN : work.decodeStepBytes()));
        o.put("weight_bytes", work.weightBytes());
    }

    private void putMemory(Map<String, Object> o) {
        o.put("kv_cache_bytes", memory.kvCacheBytes());
        o.put("arena_allocated_bytes_after_1", memory.allocatedAfter1());
        o.put("arena_allocated_bytes", memory.allocated());
        o.put("arena_peak_bytes_after_1", memory.peakAfter1());
        o.put("arena_peak_bytes", memory.peak());
        o.put("arena_pooled_bytes_after_1", memory.pooledAfter1());
        o.put("arena_pooled_bytes", memory.pooled());
        o.put("arena_live_tensors", memory.liveTensors());
        o.put("arena_growth_bytes", memory.growthBytes());
        o.put("arena_growth_bytes_per_step", num(memory.growthBytesPerStep()));
        o.put("heap_bytes_per_step", num(times.heapBytesPerStep()));
        o.put("runs", memory.runs());
        o.put("rss_bytes", memory.rssBytes());
        o.put("rss_peak_bytes", memory.rssPeakBytes());
    }

    private static Double num(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
