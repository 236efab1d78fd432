package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.jni.Kernels;
import dev.braindrip.ops.SampleBatch.RowParams;
import dev.braindrip.reference.Reference;
import dev.braindrip.reference.SamplingReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The token sampler ({@link Ops#sample}, sample.h) of one device against {@link SamplingReference}:
 * processed logits and kept sets for penalties, temperature, top-k (ties), top-p and min-p over odd
 * vocabularies and every float dtype; greedy ties; the exact top-p boundary; the draw against the
 * oracle's Philox race; the distribution (chi-square over many steps); reproducibility and
 * independence from the batch around a row; logprobs; bad arguments. {@link CpuSampleTest} runs it on
 * the CPU, {@link CudaSampleTest} on CUDA device 0 (with a CUDA-versus-CPU comparison on top).
 *
 * <p>Kept sets are compared exactly, so the inputs keep every decision away from F32 rounding: logits
 * on a grid of eighths (many exact ties), penalties that keep them dyadic (repetition 2 or 1/2,
 * presence and frequency in eighths; a temperature divides every logit alike, so it keeps ties and
 * order), and top-p / min-p thresholds placed by the oracle halfway between the masses or values
 * that bound them. Where values are not dyadic (repetition 1.3 on normal logits) only values are
 * compared, with nothing truncated.
 */
abstract class SampleSuite {
    /** Significance of the chi-square tests: at ~10 tests a run, a false alarm about once in 10^5 runs. */
    static final double CHI_SQUARE_ALPHA = 1e-6;
    static final int DRAWS = 100_000;

    abstract Device device();

    Arena newArena() {
        return Arena.on(device(), 2L << 30);
    }

    Kernels kernels() {
        return device().isCuda() ? Kernels.cuda() : Kernels.CPU;
    }

    /** One row of a test batch: its logits (V), parameters, history and step. */
    record Row(float[] logits, RowParams params, int[] prompt, int[] output, long step) {
        Row withParams(RowParams p) {
            return new Row(logits, p, prompt, output, step);
        }
    }

    /** What a call brought back, with the values the logits tensor held (the oracle's input). */
    record Run(int[] ids, float[] logprobs, int[][] topIds, float[][] topLogprobs, float[][] processed, double[][] held) {}

    Run run(Arena arena, DType dt, List<Row> rows) {
        int n = rows.size(), v = rows.get(0).logits().length;
        float[] all = new float[n * v];
        SampleBatch.Builder b = SampleBatch.builder(n);
        for (int r = 0; r < n; r++) {
            Row row = rows.get(r);
            System.arraycopy(row.logits(), 0, all, r * v, v);
            b.row(r, row.params(), row.step(), row.prompt(), row.output());
        }
        try (Tensor x = arena.fromFloats(all, dt, n, v); SampleResult res = Ops.on(arena).sample(x, b.build(), true)) {
            double[] h = OpCase.held(x);
            float[] p = res.processed().toFloatArray();
            double[][] held = new double[n][];
            float[][] processed = new float[n][];
            for (int r = 0; r < n; r++) {
                held[r] = Arrays.copyOfRange(h, r * v, (r + 1) * v);
                processed[r] = Arrays.copyOfRange(p, r * v, (r + 1) * v);
            }
            return new Run(res.ids(), res.logprobs(), res.topIds(), res.topLogprobs(), processed, held);
        }
    }

    static SamplingReference.Params oracle(RowParams p) {
        return new SamplingReference.Params(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(), p.presencePenalty(),
                p.frequencyPenalty());
    }

    static SamplingReference.Row oracle(Row row, double[] held) {
        return SamplingReference.process(held, row.prompt(), row.output(), oracle(row.params()));
    }

    // ---- inputs

    /** k / 8 for k uniform in [-64, 64]: exact in every float dtype, many exact ties. */
    static float[] grid(Inputs in, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (in.nextInt(129) - 64) / 8f;
        v[in.nextInt(n)] = 8.125f; // never all equal
        return v;
    }

    /** n ids from a pool of at most six distinct ids (repeats, so counts above 1); the prompt draws from the pool's first four, the output from its last four. */
    static int[][] history(Inputs in, int vocab, int promptLength, int outputLength) {
        int[] pool = new int[Math.min(6, vocab)];
        for (int i = 0; i < pool.length; i++) pool[i] = in.nextInt(vocab);
        int[] prompt = new int[promptLength], output = new int[outputLength];
        int lo = Math.max(0, pool.length - 4), hi = Math.min(4, pool.length);
        for (int j = 0; j < promptLength; j++) prompt[j] = pool[in.nextInt(hi)];
        for (int j = 0; j < outputLength; j++) output[j] = pool[lo + in.nextInt(pool.length - lo)];
        return new int[][] {prompt, output};
    }

    static Row row(Inputs in, float[] logits, RowParams p, int promptLength, int outputLength) {
        int[][] h = history(in, logits.length, promptLength, outputLength);
        return new Row(logits, p, h[0], h[1], in.nextInt(1 << 30));
    }

    static RowParams.Builder params(Inputs in) {
        return RowParams.builder().seed((long) in.nextInt(1 << 30) << 20 ^ in.nextInt(1 << 30));
    }

    /**
     * top_p halfway through the mass of one of the first ids kept by top-k (one holding at least 2% of
     * it, and at least the minKept-th), so no rounding moves the boundary; 1 when there is none.
     */
    static float robustTopP(Row row, Inputs in, int minKept) {
        RowParams p = row.params();
        SamplingReference.Row o = oracle(row.withParams(copy(p, 1f, 0f)), Reference.toDouble(row.logits()));
        int[] order = SamplingReference.order(o.processed());
        List<Float> choices = new ArrayList<>();
        double before = 0;
        for (int j = 0; j < order.length && o.kept()[order[j]] && j < 12; j++) {
            double pj = o.probs()[order[j]];
            if (j + 1 >= minKept && pj >= 0.02 && before + pj / 2 < 0.999) choices.add((float) (before + pj / 2));
            before += pj;
        }
        return choices.isEmpty() ? 1f : choices.get(in.nextInt(choices.size()));
    }

    /**
     * min_p whose ln lies halfway between two neighbouring distinct values of s − s_max of the kept
     * ids, keeping at least minDistinct of those values (below all of them when there are too few).
     */
    static float robustMinP(Row row, Inputs in, int minDistinct) {
        SamplingReference.Row o = oracle(row.withParams(copy(row.params(), row.params().topP(), 0f)), Reference.toDouble(row.logits()));
        double max = Arrays.stream(o.processed()).max().orElseThrow();
        double[] gaps = Arrays.stream(o.processed()).filter(s -> s > Double.NEGATIVE_INFINITY).map(s -> max - s).distinct().sorted().toArray();
        int lo = minDistinct - 1;
        if (gaps.length < lo + 2) return (float) Math.exp(-(gaps[gaps.length - 1] + 0.5));
        int j = lo + in.nextInt(Math.min(3, gaps.length - 1 - lo));
        return (float) Math.exp(-(gaps[j] + gaps[j + 1]) / 2);
    }

    static RowParams copy(RowParams p, float topP, float minP) {
        return new RowParams(p.temperature(), p.topK(), topP, minP, p.repetitionPenalty(), p.presencePenalty(), p.frequencyPenalty(), p.seed(),
                p.logprobs());
    }

    /** The mixed rows of {@link #processedMatchesOracle}: one per rule and their combinations. */
    static List<Row> mixedRows(Inputs in, int v) {
        List<Row> rows = new ArrayList<>();
        rows.add(row(in, grid(in, v), params(in).temperature(0).repetitionPenalty(2).presencePenalty(0.5f).frequencyPenalty(0.25f).build(), 9, 7));
        rows.add(row(in, grid(in, v), params(in).temperature(0.5f).repetitionPenalty(0.5f).presencePenalty(-0.25f).frequencyPenalty(0.125f).build(), 5, 11));
        rows.add(row(in, grid(in, v), params(in).topK(1 + in.nextInt(Math.min(v, 20))).build(), 0, 0));
        Row topP = row(in, grid(in, v), params(in).temperature(0.7f).build(), 0, 0);
        rows.add(topP.withParams(copy(topP.params(), robustTopP(topP, in, 1), 0f)));
        Row minP = row(in, grid(in, v), params(in).temperature(1.5f).build(), 0, 0);
        rows.add(minP.withParams(copy(minP.params(), 1f, robustMinP(minP, in, 1))));
        Row all = row(in, grid(in, v), params(in).temperature(0.8f).repetitionPenalty(2).frequencyPenalty(0.5f).topK(v / 2 + 1).build(), 6, 6);
        all = all.withParams(copy(all.params(), robustTopP(all, in, 1), 0f));
        all = all.withParams(copy(all.params(), all.params().topP(), robustMinP(all, in, 1)));
        rows.add(all);
        rows.add(row(in, grid(in, v), params(in).topK(v + 5).build(), 3, 3));
        rows.add(row(in, grid(in, v), params(in).topP(1e-6f).build(), 0, 0));
        return rows;
    }

    // ---- processed logits and kept sets against the oracle

    static Stream<Arguments> dtypesAndVocabs() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) for (int v : new int[] {1, 3, 7, 13, 257, 50_000}) out.add(Arguments.of(dt, v));
        return out.stream();
    }

    @ParameterizedTest(name = "processed {0} V={1}")
    @MethodSource("dtypesAndVocabs")
    void processedMatchesOracle(DType dt, int v) {
        String ctx = "sample processed " + dt + " V=" + v + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        List<Row> rows = mixedRows(in, v);
        try (Arena arena = newArena()) {
            Run run = run(arena, dt, rows);
            for (int r = 0; r < rows.size(); r++) {
                SamplingReference.Row o = oracle(rows.get(r), run.held()[r]);
                checkProcessed(ctx + " row " + r + " " + rows.get(r).params(), run.processed()[r], o);
                checkDraw(ctx + " row " + r, run.ids()[r], o, rows.get(r));
            }
        }
    }

    /** kept exactly where the oracle keeps, −inf elsewhere, values within F32 rounding of the oracle's. */
    static void checkProcessed(String ctx, float[] got, SamplingReference.Row o) {
        double[] want = o.greedy() >= 0 ? o.penalized() : o.processed();
        int kept = 0;
        for (int i = 0; i < got.length; i++) {
            boolean oracleKept = want[i] > Double.NEGATIVE_INFINITY;
            if ((got[i] > Float.NEGATIVE_INFINITY) != oracleKept) {
                fail(ctx + ": id " + i + " is " + (oracleKept ? "removed" : "kept") + " (" + got[i] + "), the oracle has " + want[i] + " "
                        + Seeds.tag());
            }
            if (!oracleKept) continue;
            kept++;
            if (!(Math.abs(got[i] - want[i]) <= 2e-6 * Math.max(1, Math.abs(want[i])))) {
                fail(ctx + ": processed[" + i + "] = " + got[i] + ", oracle " + want[i] + " " + Seeds.tag());
            }
        }
        assertTrue(kept >= 1, ctx + ": nothing kept " + Seeds.tag());
    }

    /**
     * The chosen id is the oracle's draw, or, when the oracle's best two race keys are within F32
     * rounding of each other (the kernels race in F32), an id whose oracle key is that close to the best.
     */
    static void checkDraw(String ctx, int id, SamplingReference.Row o, Row row) {
        int want = SamplingReference.draw(o, row.params().seed(), row.step());
        if (id == want) return;
        if (id < 0 || id >= o.kept().length || !o.kept()[id]) {
            fail(ctx + ": chose id " + id + ", which the oracle does not keep (oracle draw " + want + ") " + Seeds.tag());
        }
        double[] keys = SamplingReference.raceKeys(o, row.params().seed(), row.step());
        double gap = keys[want] - keys[id];
        if (!(gap <= 1e-5 * Math.max(1, Math.abs(keys[want])))) {
            fail(String.format(Locale.ROOT, "%s: chose id %d (race key %.9g), the oracle %d (%.9g) %s", ctx, id, keys[id], want, keys[want],
                    Seeds.tag()));
        }
    }

    static Stream<Arguments> dtypes() {
        return Stream.of(OpCases.FLOATS).map(Arguments::of);
    }

    @ParameterizedTest(name = "penalties on normal logits {0}")
    @MethodSource("dtypes")
    void penaltiesOnNormalLogits(DType dt) {
        String ctx = "sample penalties " + dt + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        int v = 301;
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 6; r++) {
            RowParams.Builder p = params(in).repetitionPenalty(r % 2 == 0 ? 1.3f : 0.8f).presencePenalty(0.7f).frequencyPenalty(-0.3f);
            p.temperature(r < 2 ? 0 : 0.6f + 0.3f * r);
            rows.add(row(in, in.normal(v, 0, 3), p.build(), 20 + r * 10, 30));
        }
        try (Arena arena = newArena()) {
            Run run = run(arena, dt, rows);
            for (int r = 0; r < rows.size(); r++) {
                SamplingReference.Row o = oracle(rows.get(r), run.held()[r]);
                checkProcessed(ctx + " row " + r, run.processed()[r], o);
                if (o.greedy() >= 0) assertEquals(o.greedy(), run.ids()[r], ctx + " row " + r + ": greedy id " + Seeds.tag());
            }
        }
    }

    @Test
    void penaltiesByHand() {
        // prompt {0, 1}, output {1, 3, 3}; repetition 2, presence 0.5, frequency 0.25 (HF / vLLM order)
        float[] x = {2, -2, 3, -1, 0.5f};
        RowParams p = new RowParams(0, 0, 1, 0, 2, 0.5f, 0.25f, 1, 0);
        try (Arena arena = newArena()) {
            Run run = run(arena, DType.F32, List.of(new Row(x, p, new int[] {0, 1}, new int[] {1, 3, 3}, 0)));
            // id 0 prompt only: 2 / 2; id 1 both: -2 * 2 - (0.5 + 0.25); id 2 untouched; id 3 output twice: -1 * 2 - (0.5 + 0.5)
            assertArrayEquals(new float[] {1, -4.75f, 3, -3, 0.5f}, run.processed()[0], "processed on " + device());
            assertEquals(2, run.ids()[0]);
        }
    }

    // ---- greedy and exact boundaries

    @Test
    void greedyTiesGoToTheLowerId() {
        float ninf = Float.NEGATIVE_INFINITY;
        List<Row> rows = List.of(
                new Row(new float[] {1, 5, 2, 5, 5}, RowParams.GREEDY, null, null, 0),
                // a penalty makes the tie: 4 / 2 == 2
                new Row(new float[] {4, 2, 1, -3}, new RowParams(0, 0, 1, 0, 2, 0, 0, 0, 0), new int[] {0}, null, 0),
                new Row(new float[] {ninf, ninf, ninf, ninf}, RowParams.GREEDY, null, null, 0),
                new Row(new float[] {Float.NaN, -1, Float.NaN, -1}, RowParams.GREEDY, null, null, 0),
                // sampling rows with nothing finite: the lowest kept id
                new Row(new float[] {ninf, ninf, ninf, ninf}, RowParams.sampling(1, 3), null, null, 5),
                new Row(new float[] {ninf, ninf, ninf, ninf}, new RowParams(1, 2, 1, 0, 1, 0, 0, 3, 0), null, null, 5));
        List<Row> sized = new ArrayList<>();
        for (Row r : rows) sized.add(new Row(Arrays.copyOf(r.logits(), 5), r.params(), r.prompt(), r.output(), r.step()));
        sized.set(0, rows.get(0));
        for (int i = 1; i < sized.size(); i++) sized.get(i).logits()[4] = i == 3 ? -1 : ninf; // pad to V = 5
        sized.get(1).logits()[4] = -5;
        try (Arena arena = newArena()) {
            Run run = run(arena, DType.F32, sized);
            assertArrayEquals(new int[] {1, 0, 0, 1, 0, 0}, run.ids(), "greedy and all -inf rows on " + device());
        }
    }

    @Test
    void topPBoundaryIsExact() {
        // four equal logits: the mass before id j is j / 4; an id is kept while that mass is below top_p
        float[] x = {2, 2, 2, 2};
        float[] topPs = {0.25f, 0.2500001f, 0.5f, 0.75f, 0.7500001f, 1f};
        int[] kept = {1, 2, 2, 3, 4, 4};
        List<Row> rows = new ArrayList<>();
        for (float tp : topPs) rows.add(new Row(x, new RowParams(1, 0, tp, 0, 1, 0, 0, 9, 0), null, null, 1));
        try (Arena arena = newArena()) {
            Run run = run(arena, DType.F32, rows);
            for (int r = 0; r < rows.size(); r++) {
                int n = 0;
                for (float s : run.processed()[r]) n += s > Float.NEGATIVE_INFINITY ? 1 : 0;
                assertEquals(kept[r], n, "top_p " + topPs[r] + " of four equal logits on " + device());
                for (int i = 0; i < n; i++) assertEquals(2f, run.processed()[r][i], "the kept ids are the lowest ones");
                assertTrue(run.ids()[r] < n);
            }
        }
    }

    // ---- the draw

    @Test
    void drawsMatchTheOracle() {
        String ctx = "sample draws vs oracle on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        int v = 5000;
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 48; r++) {
            RowParams.Builder p = params(in).temperature(0.25f + in.nextInt(8) / 4f);
            if (r % 3 == 1) p.topK(1 + in.nextInt(200));
            if (r % 4 == 2) p.repetitionPenalty(2).presencePenalty(0.25f);
            Row row = row(in, grid(in, v), p.build(), 10, 10);
            if (r % 2 == 1) row = row.withParams(copy(row.params(), robustTopP(row, in, 1), 0f));
            if (r % 5 == 3) row = row.withParams(copy(row.params(), row.params().topP(), robustMinP(row, in, 1)));
            rows.add(row);
        }
        try (Arena arena = newArena()) {
            Run run = run(arena, DType.F32, rows);
            for (int r = 0; r < rows.size(); r++) {
                SamplingReference.Row o = oracle(rows.get(r), run.held()[r]);
                checkProcessed(ctx + " row " + r, run.processed()[r], o);
                checkDraw(ctx + " row " + r, run.ids()[r], o, rows.get(r));
            }
        }
    }

    static Stream<Arguments> distributions() {
        return Stream.of(
                Arguments.of("plain T=1", RowParams.builder().build(), 0, 0, false, false),
                Arguments.of("T=0.6 top-k 5", RowParams.builder().temperature(0.6f).topK(5).build(), 0, 0, false, false),
                Arguments.of("T=1.7 top-p", RowParams.builder().temperature(1.7f).build(), 0, 0, true, false),
                Arguments.of("min-p", RowParams.builder().temperature(0.9f).build(), 0, 0, false, true),
                Arguments.of("penalties top-k 6", RowParams.builder().temperature(1.2f).topK(6).repetitionPenalty(1.4f).presencePenalty(0.3f)
                        .frequencyPenalty(0.4f).build(), 6, 5, false, false),
                Arguments.of("all", RowParams.builder().temperature(0.8f).topK(7).repetitionPenalty(0.7f).build(), 3, 3, true, true));
    }

    /**
     * Many draws of one row (steps 0..N-1, one seed) against the oracle's renormalized probabilities:
     * removed ids never drawn, and Pearson's chi-square above {@link #CHI_SQUARE_ALPHA}. topP / minP:
     * add a boundary-robust top_p / min_p.
     */
    @ParameterizedTest(name = "distribution {0}")
    @MethodSource("distributions")
    void drawsFollowTheDistribution(String name, RowParams p, int promptLength, int outputLength, boolean topP, boolean minP) {
        String ctx = "sample distribution " + name + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        int v = 8;
        long seed = (long) in.nextInt(1 << 30) << 16 ^ in.nextInt(1 << 30);
        p = new RowParams(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(), p.presencePenalty(), p.frequencyPenalty(), seed, 0);
        Row base = row(in, in.normal(v, 0, 1.5), p, promptLength, outputLength);
        if (topP) base = base.withParams(copy(base.params(), robustTopP(base, in, 2), 0f));
        if (minP) base = base.withParams(copy(base.params(), base.params().topP(), robustMinP(base, in, 2)));
        List<Row> rows = new ArrayList<>(DRAWS);
        for (int s = 0; s < DRAWS; s++) rows.add(new Row(base.logits(), base.params(), base.prompt(), base.output(), s));
        try (Arena arena = newArena()) {
            Run run = run(arena, DType.F32, rows);
            SamplingReference.Row o = oracle(base, run.held()[0]);
            long[] counts = new long[v];
            for (int id : run.ids()) counts[id]++;
            double[] expected = new double[v];
            int cells = 0;
            for (int i = 0; i < v; i++) {
                expected[i] = o.probs()[i] * DRAWS;
                if (!o.kept()[i] && counts[i] > 0) fail(ctx + ": removed id " + i + " drawn " + counts[i] + " times " + Seeds.tag());
                if (o.kept()[i]) cells++;
            }
            assertTrue(cells >= 2, ctx + ": the test needs at least two kept ids, kept " + cells + " " + Seeds.tag());
            ChiSquare.Fit fit = ChiSquare.pooled(counts, expected, 5);
            if (fit.df() < 1) return; // everything but one id too rare to test: the removed-id check above is what is left
            double pValue = fit.pValue();
            if (!(pValue >= CHI_SQUARE_ALPHA)) {
                fail(String.format(Locale.ROOT, "%s (%s): chi-square %.1f on %d df, p = %.3g < %.0e; counts %s, expected %s %s", ctx,
                        base.params(), fit.statistic(), fit.df(), pValue, CHI_SQUARE_ALPHA, Arrays.toString(counts), Arrays.toString(expected),
                        Seeds.tag()));
            }
        }
    }

    @Test
    void aRowsDrawDependsOnlyOnItself() {
        String ctx = "sample batch independence on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        int v = 3000;
        List<Row> a = new ArrayList<>(), b = new ArrayList<>();
        for (int r = 0; r < 4; r++) {
            RowParams p = params(in).temperature(0.9f).topK(r == 1 ? 40 : 0).topP(r == 2 ? 0.8f : 1f).minP(r == 3 ? 0.05f : 0f)
                    .repetitionPenalty(r == 0 ? 1.2f : 1f).logprobs(3).build();
            a.add(row(in, in.normal(v, 0, 2), p, 12, 12));
        }
        // another batch: the same rows at other positions, among other rows, in a larger batch
        for (int r = 0; r < 7; r++) b.add(row(in, in.normal(v, 1, 3), params(in).temperature(1.3f).build(), 4, 4));
        int[] at = {5, 0, 3, 6};
        for (int r = 0; r < 4; r++) b.set(at[r], a.get(r));
        try (Arena arena = newArena()) {
            Run first = run(arena, DType.F32, a), again = run(arena, DType.F32, a), other = run(arena, DType.F32, b);
            assertArrayEquals(first.ids(), again.ids(), ctx + ": same seeds and steps, same ids");
            for (int r = 0; r < 4; r++) {
                String where = ctx + ": row " + r + " at position " + at[r] + " of 7";
                assertEquals(first.ids()[r], other.ids()[at[r]], where + ": id");
                assertEquals(first.logprobs()[r], other.logprobs()[at[r]], where + ": logprob");
                assertArrayEquals(first.processed()[r], other.processed()[at[r]], where + ": processed");
                assertArrayEquals(first.topIds()[r], other.topIds()[at[r]], where + ": top ids");
            }
            // another step draws anew: over 64 steps of one row, more than one id comes up
            List<Row> steps = new ArrayList<>();
            for (int s = 0; s < 64; s++) steps.add(new Row(a.get(0).logits(), a.get(0).params(), a.get(0).prompt(), a.get(0).output(), s));
            assertTrue(Arrays.stream(run(arena, DType.F32, steps).ids()).distinct().count() > 1, ctx + ": the step changes the draw");
        }
    }

    // ---- logprobs

    @ParameterizedTest(name = "logprobs {0} V={1}")
    @MethodSource("logprobCases")
    void logprobsMatchTheRawLogSoftmax(DType dt, int v) {
        String ctx = "sample logprobs " + dt + " V=" + v + " on " + device();
        Inputs in = new Inputs(Seeds.forCase(ctx));
        int[] ns = {0, 1, 5, 20, 10, 40}; // 40: past the CPU twin's one-pass path (32), and past V = 7
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < ns.length; r++) {
            RowParams.Builder p = params(in).logprobs(ns[r]).temperature(r == 0 ? 0 : 0.8f).topK(r == 2 ? 3 : 0).repetitionPenalty(r == 3 ? 2 : 1);
            rows.add(row(in, grid(in, v), p.build(), 5, 5));
        }
        try (Arena arena = newArena()) {
            Run run = run(arena, dt, rows);
            for (int r = 0; r < rows.size(); r++) {
                double[] lp = SamplingReference.logSoftmax(run.held()[r]);
                int[] want = SamplingReference.topIds(run.held()[r], ns[r]);
                String where = ctx + " row " + r + " n=" + ns[r];
                assertArrayEquals(want, run.topIds()[r], where + ": top ids " + Seeds.tag());
                assertEquals(ns[r], run.topLogprobs()[r].length, where);
                for (int j = 0; j < ns[r]; j++) {
                    double w = want[j] < 0 ? Double.NEGATIVE_INFINITY : lp[want[j]];
                    float g = run.topLogprobs()[r][j];
                    assertTrue(w == Double.NEGATIVE_INFINITY ? g == Float.NEGATIVE_INFINITY : Math.abs(g - w) <= 1e-5 * Math.max(1, -w),
                            where + ": top logprob " + j + " = " + g + ", oracle " + w + " " + Seeds.tag());
                }
                double w = lp[run.ids()[r]];
                assertTrue(Math.abs(run.logprobs()[r] - w) <= 1e-5 * Math.max(1, -w),
                        where + ": logprob of the chosen id " + run.logprobs()[r] + ", oracle " + w + " " + Seeds.tag());
            }
        }
    }

    static Stream<Arguments> logprobCases() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) for (int v : new int[] {7, 257, 50_000}) out.add(Arguments.of(dt, v));
        return out.stream();
    }

    // ---- bad arguments

    @Test
    void historyIdsOutsideTheVocabularyAreRefused() {
        try (Arena arena = newArena(); Tensor x = arena.fromFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, DType.F32, 2, 4)) {
            RowParams pen = new RowParams(1, 0, 1, 0, 1.5f, 0, 0, 1, 0);
            SampleBatch batch = SampleBatch.builder(2).row(0, pen, 0, new int[] {1, 2}, new int[] {3}).row(1, pen, 0, new int[] {0}, new int[] {2, 4})
                    .build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.on(arena).sample(x, batch).close());
            assertEquals("sample: row 1: output id 4 at position 1 is outside [0, vocab=4)", e.getMessage());
            SampleBatch three = SampleBatch.builder(3).row(0, pen, 0, null, null).row(1, pen, 0, null, null).row(2, pen, 0, null, null).build();
            e = assertThrows(IllegalArgumentException.class, () -> Ops.on(arena).sample(x, three).close());
            assertTrue(e.getMessage().contains("logits have 2 rows, the batch 3"), e.getMessage());
            try (Tensor flat = arena.fromFloats(new float[] {1, 2}, DType.F32, 2); Tensor ints = arena.fromInts(new int[] {1, 2, 3, 4}, 1, 4)) {
                SampleBatch one = SampleBatch.builder(1).row(0, RowParams.GREEDY, 0, null, null).build();
                e = assertThrows(IllegalArgumentException.class, () -> Ops.on(arena).sample(flat, one).close());
                assertTrue(e.getMessage().contains("(rows, vocab)"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> Ops.on(arena).sample(ints, one).close());
                assertTrue(e.getMessage().contains("expected F32, F16 or BF16"), e.getMessage());
            }
            assertEquals(1, arena.liveTensors(), "a refused sample left tensors in the arena on " + device());
        }
    }

    /** The raw kernel checks what Java already does (a C caller has no Java in front): the same first error on both backends. */
    @Test
    void theKernelRefusesBadValues() {
        Kernels k = kernels();
        int rows = 3, v = 4;
        float[][] temperature = {{1, -1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
        float[][] topP = {{1, 1, 1}, {1, 1, 0}, {1, 1, 1}, {1, 1, 1}};
        int[][] history = {{0}, {0}, {0, 7}, {0}};
        long[][] offsets = {{0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 2, 2}, {0, 3, 2, 2}};
        String[] messages = {"sample: temperature[1] (-1) must be finite and >= 0", "sample: top_p[2] (0) must be in (0, 1]",
                "sample: history[1] (7) is outside [0, vocab=4)",
                "sample: history_offsets[0..1] = [0, 3] must satisfy 0 <= start <= end <= history_len (1)"};
        try (Arena arena = newArena()) {
            for (int c = 0; c < messages.length; c++) {
                float[] ones = {1, 1, 1}, zeros = {0, 0, 0};
                try (Tensor x = arena.fromFloats(new float[rows * v], DType.F32, rows, v); Tensor t = arena.fromFloats(temperature[c], DType.F32, rows);
                     Tensor p = arena.fromFloats(topP[c], DType.F32, rows); Tensor one = arena.fromFloats(ones, DType.F32, rows);
                     Tensor zero = arena.fromFloats(zeros, DType.F32, rows); Tensor ints = arena.fromInts(new int[rows], rows);
                     Tensor longs = arena.fromLongs(new long[rows], rows); Tensor h = arena.fromInts(history[c], history[c].length);
                     Tensor off = arena.fromLongs(offsets[c], rows + 1); Tensor ids = arena.empty(DType.I32, rows);
                     Tensor ws = arena.empty(DType.U8, k.sampleWorkspaceBytes(rows, v, 0))) {
                    int st = k.sample(x.address(), DType.F32.code(), rows, v, v, t.address(), ints.address(), p.address(), zero.address(),
                            one.address(), zero.address(), zero.address(), longs.address(), longs.address(), ints.address(), h.address(),
                            off.address(), ints.address(), history[c].length, ids.address(), 0L, 0L, 0L, 0, 0L, ws.address(), ws.bytes(), 1, 0L);
                    assertEquals(NativeStatus.INVALID_ARGUMENT, st, messages[c] + " on " + device());
                    assertEquals(messages[c], k.lastError(), "on " + device());
                }
            }
        }
    }

    @Test
    void badParametersNameTheField() {
        String[][] cases = {{"temperature", "-1.0"}, {"temperature", "Infinity"}, {"topP", "0.0"}, {"topP", "NaN"}, {"minP", "1.5"},
                {"repetitionPenalty", "0.0"}, {"presencePenalty", "Infinity"}, {"frequencyPenalty", "NaN"}, {"logprobs", "1025"}};
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                RowParams.Builder b = RowParams.builder();
                float f = Float.parseFloat(c[1]);
                switch (c[0]) {
                    case "temperature" -> b.temperature(f);
                    case "topP" -> b.topP(f);
                    case "minP" -> b.minP(f);
                    case "repetitionPenalty" -> b.repetitionPenalty(f);
                    case "presencePenalty" -> b.presencePenalty(f);
                    case "frequencyPenalty" -> b.frequencyPenalty(f);
                    default -> b.logprobs((int) f);
                }
                b.build();
            });
            String want = "sample: " + c[0] + " (" + (c[0].equals("logprobs") ? "1025" : c[1]) + ")";
            assertTrue(e.getMessage().startsWith(want), e.getMessage() + " should start with " + want);
        }
    }
}
