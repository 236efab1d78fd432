package dev.braindrip.cli;

import dev.braindrip.bench.GenerateBench;
import dev.braindrip.bench.GenerateResult;
import java.util.List;
import java.util.Locale;

/** The stdout table of `bench generate`: one row per test (ours, the peer's beside it), then memory and step-split lines. */
final class GenerateTable {
    private GenerateTable() {}

    private static final String HEAD = "%-14s %4s %5s %4s %-7s %11s %11s %11s %11s %8s %7s %11s %11s %8s %8s%n";
    private static final String ROW = "%-14s %4d %5d %4d %-7s %11.2f %11.2f %11s %11s %8s %7s %11s %11s %8s %8s%n";

    static void print(List<GenerateResult> rs) {
        System.out.printf(Locale.ROOT, HEAD, "test", "B", "PP", "TG", "timed", "median_ms", "min_ms", "prefill_t/s", "decode_t/s", "ms/step",
                "GB/s", "peer_pf_t/s", "peer_dc_t/s", "x_pf", "x_dc");
        GenerateResult base = batchOne(rs);
        for (GenerateResult r : rs) {
            if (r.skipped() != null) {
                System.out.printf(Locale.ROOT, "%-14s %4d %5d %4d skipped: %s%n", r.shape().test(), r.shape().batch(), r.shape().promptTokens(),
                        r.shape().genTokens(), r.skipped());
                continue;
            }
            var p = r.peer();
            System.out.printf(Locale.ROOT, ROW, r.shape().test(), r.shape().batch(), r.shape().promptTokens(), r.shape().genTokens(),
                    r.shape().timed().label(), r.medianMs(), r.minMs(), f1(r.prefillTokS()), f1(r.decodeTokS()), f3(r.msPerStep()), f1(r.gbps()),
                    p == null ? "-" : f1(r.prefillTokS() > 0 ? p.prefillTokS() : Double.NaN), p == null ? "-" : f1(p.decodeTokS()),
                    ratio(r.prefillVsPeer()), ratio(r.decodeVsPeer()));
        }
        for (GenerateResult r : rs) if (r.skipped() == null) details(r, base);
    }

    /** The batch-1 batch test, the reference of the batch-scaling ratio (null when not run). */
    private static GenerateResult batchOne(List<GenerateResult> rs) {
        for (GenerateResult r : rs) {
            if (r.skipped() == null && r.shape().timed() == GenerateBench.Timed.TOTAL && r.shape().batch() == 1) return r;
        }
        return null;
    }

    private static void details(GenerateResult r, GenerateResult base) {
        String label = r.shape().test() + (r.shape().timed() == GenerateBench.Timed.TOTAL ? " B=" + r.shape().batch() : "");
        var m = r.memory();
        System.out.printf(Locale.ROOT, "  %s: prefill %.2f ms, decode %.2f ms (%d steps), total %.2f ms%s%n", label, r.times().prefillMs(),
                r.times().decodeMs(), r.times().steps(), r.times().totalMs(),
                base != null && base != r && r.shape().timed() == GenerateBench.Timed.TOTAL
                        ? String.format(Locale.ROOT, "; decode tok/s %.2fx batch 1", r.decodeTokS() / base.decodeTokS()) : "");
        System.out.printf(Locale.ROOT, "    arena: in use %d B after run 1, %d after run %d (KV cache %d); peak %d -> %d; pooled %d -> %d; "
                        + "device bytes gained after run 1: %d over %d decode steps (%s B/step); engine heap %s B/step; rss %d (peak %d)%n",
                m.allocatedAfter1(), m.allocated(), m.runs(), m.kvCacheBytes(), m.peakAfter1(), m.peak(), m.pooledAfter1(), m.pooled(), m.growthBytes(),
                m.growthSteps(), f1(m.growthBytesPerStep()), f1(r.times().heapBytesPerStep()), m.rssBytes(), m.rssPeakBytes());
        if (Double.isFinite(r.forwardStepMs())) {
            System.out.printf(Locale.ROOT, "    step split: %.3f ms per step = model step alone %.3f + sampling and scheduling %.3f%n", r.msPerStep(),
                    r.forwardStepMs(), r.msPerStep() - r.forwardStepMs());
        }
        if (Double.isFinite(r.recomputeMsPerStep())) {
            System.out.printf(Locale.ROOT, "    full recomputation (no cache, a forward over the whole sequence per token): %.3f ms per token; cached %.3f: %.1fx%n",
                    r.recomputeMsPerStep(), r.msPerStep(), r.recomputeMsPerStep() / r.msPerStep());
        }
        if (r.peer() != null) {
            System.out.printf(Locale.ROOT, "    peer: %s on %s, %s, %s attention: prefill %.2f ms, decode %.2f ms, total %.2f ms%n", r.peer().name(),
                    r.peer().device(), r.peer().dtype(), r.peer().attention(), r.peer().prefillMs(), r.peer().decodeMs(), r.peer().totalMs());
        }
        if (r.peerSkipped() != null) System.out.println("    peer skipped: " + r.peerSkipped());
    }

    private static String f1(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f", v) : "-";
    }

    private static String f3(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3f", v) : "-";
    }

    private static String ratio(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.2fx", v) : "-";
    }
}
