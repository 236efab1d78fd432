package dev.braindrip.model;

import dev.braindrip.nn.FeedForward;
import dev.braindrip.nn.KvCache;
import dev.braindrip.nn.Linear;
import dev.braindrip.nn.Norm;
import dev.braindrip.nn.PatchCrossAttention;
import dev.braindrip.nn.Rotary;
import dev.braindrip.nn.SelfAttention;
import dev.braindrip.nn.TransformerBlock;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Byte Latent Transformer assembly (Hugging Face's BltModel) behind a {@link Transformer} of
 * stack BYTE_LATENT; every stage runs on the library's kernels.
 * <ol>
 *   <li><b>Patcher</b> (entropy patching): a causal byte LM; entropy −Σ p ln p of its next-byte
 *       distribution at every position; patch starts by {@link #patchLengths}.</li>
 *   <li><b>Local encoder</b>: embed_tokens[id] + the hash n-gram rows ({@link #hashRows}); causal
 *       layers; then each patch's k query slots = patch_embedding_projection(max over the patch's
 *       byte states) cross-attend to that patch's bytes, and the patch output is the slots plus
 *       the module's output (the doubled residual: 2·slots + o).</li>
 *   <li><b>Global</b>: (token projection of) the k·H slot vector of each patch, causal layers over
 *       the patches with RoPE at patch positions, no final norm.</li>
 *   <li><b>Local decoder</b>: the encoder's byte states; before layer 0 (every layer when
 *       cross_attn_all_layers) byte t attends the k slots (patch_embedding_projection of the global
 *       output) of its decoder patch — the patch before the one that holds byte t + 1 — as h += h +
 *       o; the layers; the norm; lm_head.</li>
 * </ol>
 * All four use Llama-style blocks with adjacent-pair RoPE. Cross-attention is block-structured, so
 * it runs as packed varlen attention over exactly the visible keys: no mask is built and nothing
 * of a row's padding is computed. A trailing empty patch (Hugging Face's, when the last byte's
 * entropy passes the threshold) holds no bytes and no byte reads it, so it is not run.
 */
final class ByteLatent {
    static final long[] PRIMES = {1000000007L, 5915587277L, 1500450271L, 3267000013L, 5754853343L, 4093082899L, 9576890767L,
            3628273133L, 2860486313L, 5463458053L, 3367900313L};

    /** One stage's layers: the blocks and their attentions. */
    record Layers(List<TransformerBlock> blocks, List<SelfAttention> attns) {
        int size() {
            return blocks.size();
        }
    }

    private final ModelConfig c;
    private final LatentSpec l;
    private final Arena arena;
    private final Ops ops;
    private final Weights w;
    private final Layers patcher, encoder, global, decoder;
    private final Tensor hashTable, encEmbed, patcherEmbed, patcherHead, lmHead;
    private final Norm patcherNorm, decNorm;
    private final Linear encPatchProj, tokenProj, decPatchProj;
    private final PatchCrossAttention encCross;       // the only encoder cross-attention whose result survives
    private final List<PatchCrossAttention> decCross;

    ByteLatent(ModelConfig c, Weights w, Arena arena, Ops ops) {
        this.c = c;
        this.l = c.latent();
        this.w = w;
        this.arena = arena;
        this.ops = ops;
        patcher = l.patcher() == null ? null : layers("patcher", l.patcher());
        encoder = layers("enc", l.encoder());
        global = layers("global", l.global());
        decoder = layers("dec", l.decoder());
        hashTable = w.getOrNull("hash_embed");
        encEmbed = w.get("enc.embed");
        patcherEmbed = l.patcher() == null ? null : w.get("patcher.embed");
        patcherHead = l.patcher() == null ? null : w.get("patcher.head");
        patcherNorm = l.patcher() == null ? null : norm("patcher.norm", l.patcher());
        decNorm = norm("dec.norm", l.decoder());
        lmHead = w.get("lm_head");
        encPatchProj = linear("enc.patch_proj");
        tokenProj = l.tokenProjection() ? linear("global.token_proj") : null;
        decPatchProj = linear("dec.patch_proj");
        encCross = cross("enc.cross." + (l.encoderCrossAll() ? l.encoder().layers() - 1 : 0) + ".", l.encoder());
        decCross = new ArrayList<>();
        for (int j = 0; j < (l.decoderCrossAll() ? l.decoder().layers() : 1); j++) decCross.add(cross("dec.cross." + j + ".", l.decoder()));
    }

    private Norm norm(String name, LatentSpec.Stage s) {
        return new Norm(Norm.Kind.RMS, w.get(name + ".weight"), null, (float) s.eps());
    }

    private Linear linear(String name) {
        return new Linear(w.get(name + ".weight"), null);
    }

    private Layers layers(String p, LatentSpec.Stage s) {
        Rotary rope = new Rotary(new RopeSpec((float) s.theta(), RopeSpec.Style.INTERLEAVED, 0), null, 1f);
        List<TransformerBlock> blocks = new ArrayList<>();
        List<SelfAttention> attns = new ArrayList<>();
        for (int i = 0; i < s.layers(); i++) {
            String q = p + ".layers." + i + ".";
            attns.add(new SelfAttention(linear(q + "q"), linear(q + "k"), linear(q + "v"), linear(q + "o"), null, null, rope, s.heads(),
                    s.kvHeads(), s.headDim(), true, 0, 0f, (float) (1.0 / Math.sqrt(s.headDim())), null));
            FeedForward f = FeedForward.gated(linear(q + "gate_up"), linear(q + "down"), Glu.SWIGLU);
            blocks.add(new TransformerBlock(TransformerBlock.Placement.PRE, norm(q + "attn_norm", s), null, norm(q + "ffn_norm", s), null, f::apply));
        }
        return new Layers(blocks, attns);
    }

    private PatchCrossAttention cross(String p, LatentSpec.Stage s) {
        return new PatchCrossAttention(norm(p + "q_norm", s), norm(p + "k_norm", s), linear(p + "q"), linear(p + "k"), linear(p + "v"),
                linear(p + "o"), s.heads(), s.kvHeads(), s.headDim());
    }

    LatentSpec spec() {
        return l;
    }

    // ---------------------------------------------------------------- host-side semantics

    /**
     * The hash n-gram embedding rows of one sequence, as Hugging Face's compute_hash_embeddings
     * adds them: for each function f (outer) and size n, at byte t the ids ending at t (zeros before
     * the start), Σ id[t − n + 1 + i] · prime_f^i in wrapping int64, floor-mod the hash vocab, plus
     * e · vocab for the e-th (f, n) pair. Returns rows[e][t].
     */
    static long[][] hashRows(int[] ids, List<Integer> sizes, int functions, long vocab) {
        long[][] out = new long[functions * sizes.size()][ids.length];
        int e = 0;
        for (int f = 0; f < functions; f++) {
            long prime = PRIMES[f % PRIMES.length];
            for (int n : sizes) {
                long[] powers = new long[n];
                powers[0] = 1;
                for (int i = 1; i < n; i++) powers[i] = powers[i - 1] * prime; // wraps, as torch's int64 pow does
                for (int t = 0; t < ids.length; t++) {
                    long h = 0;
                    for (int i = 0; i < n; i++) {
                        int at = t - n + 1 + i;
                        h += (at < 0 ? 0L : ids[at]) * powers[i];
                    }
                    out[e][t] = Math.floorMod(h, vocab) + e * vocab;
                }
                e++;
            }
        }
        return out;
    }

    /** Whether byte t (≥ 2; t may be the length, a trailing empty patch) starts a patch under the spec's own rule. */
    static boolean starts(LatentSpec l, int t, int[] ids, double[] entropy) {
        if (t < 2) return true;
        return switch (l.patching()) {
            case ENTROPY -> entropy[t - 1] > l.threshold();
            case ENTROPY_RISE -> entropy[t - 1] - entropy[t - 2] > l.threshold();
            case FIXED -> (t - 1) % l.patchSize() == 0;
            case SPACE -> isBoundary(ids[t - 1]);
            case ONES -> true;
        };
    }

    /** SPACE patching: a new patch follows any byte that is not an ASCII letter or digit, nor a UTF-8 continuation byte. */
    static boolean isBoundary(int id) {
        int b = id - 4;
        if (b < 0) return true; // a special id
        boolean letterOrDigit = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        boolean continuation = (b & 0xC0) == 0x80, lead = b >= 0xC0;
        return !letterOrDigit && !continuation && !lead;
    }

    /**
     * The patch lengths of one sequence of S ids as Hugging Face computes them: patches start at 0,
     * 1 and every t ≥ 2 the rule picks, scanned up to t = S (a start there is a zero-length last
     * patch); ONES gives S + 1 ones; then max_patch_length splits each patch into m, m, …, rest and
     * drops the zero-length ones.
     */
    static int[] patchLengths(LatentSpec l, int[] ids, double[] entropy) {
        int s = ids.length;
        List<Integer> out = new ArrayList<>();
        if (l.patching() == LatentSpec.Patching.ONES) {
            for (int i = 0; i <= s; i++) out.add(1);
        } else {
            int start = 0;
            for (int t = 1; t <= s; t++) {
                if (starts(l, t, ids, entropy)) {
                    out.add(t - start);
                    start = t;
                }
            }
            out.add(s - start); // the patch open at the end (zero-length when S itself started one)
            if (s == 0) out.clear();
        }
        if (l.maxPatchLength() > 0) {
            List<Integer> split = new ArrayList<>();
            for (int len : out) {
                if (len <= 0) continue;
                for (int r = len; r > 0; r -= l.maxPatchLength()) split.add(Math.min(r, l.maxPatchLength()));
            }
            out = split;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Hugging Face's _patch_ids_from_lengths over lengths[from..]: byte t is in patch (number of
     * patch starts ≤ t) − 1, the starts being the exclusive cumsum (zero-length patches included).
     */
    static int[] patchIds(int[] lengths, int from, int s) {
        int n = Math.max(1, lengths.length - from); // no lengths still give the one start at 0 (HF prepends it)
        long[] startsAt = new long[n];
        long acc = 0;
        for (int i = 0; i < n; i++) {
            startsAt[i] = acc;
            if (from + i < lengths.length) acc += lengths[from + i];
        }
        int[] ids = new int[s];
        int k = 0;
        for (int t = 0; t < s; t++) {
            while (k < n && startsAt[k] <= t) k++;
            ids[t] = k - 1;
        }
        return ids;
    }

    static double[] entropies(float[] logits, int rows, int vocab) {
        double[] e = new double[rows];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) max = Math.max(max, logits[r * vocab + j]);
            double z = 0, s = 0;
            for (int j = 0; j < vocab; j++) {
                double x = logits[r * vocab + j] - max, p = Math.exp(x);
                z += p;
                s += p * x;
            }
            e[r] = Math.log(z) - s / z; // −Σ p ln p with p = e^x / z
        }
        return e;
    }

    // ---------------------------------------------------------------- the forward pass

    /** One sequence's patch plan: HF's lengths, byte → encoder patch, byte → decoder patch, patches holding bytes. */
    record Plan(int[] lengths, int[] encPatch, int[] decPatch, int patches) {}

    Plan plan(int[] ids, double[] entropy) {
        int[] len = patchLengths(l, ids, entropy);
        int[] enc = patchIds(len, 0, ids.length), dec = patchIds(len, 1, ids.length);
        int m = ids.length == 0 ? 0 : enc[ids.length - 1] + 1;
        for (int t = 0; t < ids.length; t++) {
            if (dec[t] < 0 || dec[t] >= m) {
                throw new IllegalStateException("blt: byte " + t + " would read patch " + dec[t] + " of " + m + " (patch lengths "
                        + Arrays.toString(len) + ")");
            }
        }
        return new Plan(len, enc, dec, m);
    }

    /** The patcher's entropies of a packed batch (one array per row), or nulls when the patching needs none. */
    double[][] entropies(TokenBatch batch) {
        double[][] out = new double[batch.rows()][];
        if (!l.patching().needsPatcher()) return out;
        int t = batch.totalTokens();
        int[] offsets = batch.offsets();
        float[] lg;
        try (Tensor ids = arena.fromInts(batch.packed(), t); Tensor pos = arena.fromInts(batch.positions(), t);
             Tensor cu = arena.fromInts(offsets, batch.rows() + 1)) {
            Tensor h = ops.embedding(patcherEmbed, ids);
            h = run(patcher, h, pos, cu, offsets, null, 0);
            try (Tensor in = h; Tensor n = patcherNorm.apply(ops, in); Tensor logits = ops.gemm(n, patcherHead, null, true)) {
                lg = logits.toFloatArray();
            }
        }
        double[] all = entropies(lg, t, c.vocabSize());
        for (int r = 0; r < batch.rows(); r++) out[r] = Arrays.copyOfRange(all, offsets[r], offsets[r + 1]);
        return out;
    }

    /** h through a stage's layers (with its caches when given: row r fills sequence firstSlot + r). */
    Tensor run(Layers s, Tensor h, Tensor pos, Tensor cu, int[] offsets, KvCache[] caches, int firstSlot) {
        for (int i = 0; i < s.size(); i++) {
            SelfAttention a = s.attns().get(i);
            KvCache cache = caches == null ? null : caches[i];
            try (Tensor in = h) {
                h = s.blocks().get(i).apply(ops, in, x -> a.forward(ops, x, pos, cu, offsets, cache, firstSlot));
            }
        }
        return h;
    }

    /** One new row per sequence through a stage's layers over their caches. */
    Tensor step(Layers s, Tensor h, Tensor pos, KvCache[] caches) {
        for (int i = 0; i < s.size(); i++) {
            SelfAttention a = s.attns().get(i);
            KvCache cache = caches[i];
            try (Tensor in = h) {
                h = s.blocks().get(i).apply(ops, in, x -> a.step(ops, x, pos, cache));
            }
        }
        return h;
    }

    /** The encoder's input: embed_tokens plus the hash rows, (T, H_enc), for a packed batch (hashes per row). */
    Tensor embed(TokenBatch batch, int[] rowsStart) {
        int t = batch.totalTokens();
        try (Tensor ids = arena.fromInts(batch.packed(), t)) {
            Tensor h = ops.embedding(encEmbed, ids);
            if (hashTable == null) return h;
            int groups = l.hashFunctions() * l.hashSizes().size();
            int[][] rows = new int[groups][t];
            for (int r = 0; r < batch.rows(); r++) {
                long[][] hr = hashRows(batch.row(r), l.hashSizes(), l.hashFunctions(), l.hashVocab());
                for (int e = 0; e < groups; e++) for (int i = 0; i < hr[e].length; i++) rows[e][batch.offset(r) + i] = (int) hr[e][i];
            }
            for (int e = 0; e < groups; e++) {
                try (Tensor in = h; Tensor idx = arena.fromInts(rows[e], t); Tensor g = ops.embedding(hashTable, idx)) {
                    h = ops.add(in, g);
                }
            }
            return h;
        }
    }

    /** Element-wise max over each segment [cu[i], cu[i + 1]) of rows x (T, H): (segments, H), zeros for an empty segment. */
    Tensor segmentMax(Tensor x, int[] cu) {
        int width = (int) x.dim(1), n = cu.length - 1;
        float[] v = x.toFloatArray(), out = new float[n * width];
        for (int s = 0; s < n; s++) {
            if (cu[s + 1] == cu[s]) continue;
            System.arraycopy(v, cu[s] * width, out, s * width, width);
            for (int r = cu[s] + 1; r < cu[s + 1]; r++) {
                for (int j = 0; j < width; j++) out[s * width + j] = Math.max(out[s * width + j], v[r * width + j]);
            }
        }
        return arena.fromFloats(out, x.dtype(), n, width);
    }

    /**
     * The encoder's patch outputs (Σ patches, k·H_enc) of byte states (T, H_enc): per patch p of
     * bytes [start, start + len), k slots of patch_embedding_projection(max over its bytes) attend
     * to those bytes; output = slots + cross(slots) = 2·slots + o.
     */
    Tensor patchOutputs(Tensor states, int[] byteStarts) {
        int n = byteStarts.length - 1, k = l.crossAttnK(), he = l.encoder().hidden();
        int[] cuQ = new int[n + 1];
        for (int i = 0; i <= n; i++) cuQ[i] = i * k;
        try (Tensor pooled = segmentMax(states, byteStarts); Tensor proj = encPatchProj.apply(ops, pooled);
             Tensor cq = arena.fromInts(cuQ, n + 1); Tensor ck = arena.fromInts(byteStarts, n + 1)) {
            Tensor slots = proj.reshape((long) n * k, he);
            try (Tensor out = encCross.forward(ops, slots, cq, states, ck); Tensor sum = ops.add(slots, out)) {
                return arena.empty(sum.dtype(), n, (long) k * he).copyFrom(sum.reshape(n, (long) k * he));
            }
        }
    }

    /** The global model's input of patch outputs (N, k·H_enc): the token projection when the widths differ. */
    Tensor globalInput(Tensor patchOut) {
        if (tokenProj == null) return arena.empty(patchOut.dtype(), patchOut.shape()).copyFrom(patchOut);
        return tokenProj.apply(ops, patchOut);
    }

    /** The decoder's key slots (N·k, H_dec) of global outputs (N, H_glob). */
    Tensor slots(Tensor globalOut) {
        long n = globalOut.dim(0);
        try (Tensor p = decPatchProj.apply(ops, globalOut)) {
            return arena.empty(p.dtype(), n * l.crossAttnK(), l.decoder().hidden()).copyFrom(p.reshape(n * l.crossAttnK(), l.decoder().hidden()));
        }
    }

    PatchCrossAttention decoderCross(int layer) {
        return layer == 0 || l.decoderCrossAll() ? decCross.get(l.decoderCrossAll() ? layer : 0) : null;
    }

    /** Logits (T, V) of decoder states h (T, H_dec): norm, lm_head. */
    Tensor logits(Tensor h) {
        try (Tensor n = decNorm.apply(ops, h)) {
            return ops.gemm(n, lmHead, null, true);
        }
    }

    Layers decoder() {
        return decoder;
    }

    Layers encoder() {
        return encoder;
    }

    Layers global() {
        return global;
    }

    Layers patcher() {
        return patcher;
    }

    Tensor patcherLogits(Tensor h) {
        try (Tensor n = patcherNorm.apply(ops, h)) {
            return ops.gemm(n, patcherHead, null, true);
        }
    }

    Tensor patcherEmbed(Tensor ids) {
        return ops.embedding(patcherEmbed, ids);
    }

    Tensor encEmbed(Tensor ids) {
        return ops.embedding(encEmbed, ids);
    }

    Tensor hashTable() {
        return hashTable;
    }

    /** Logits (T, V) of a packed ragged batch of byte-id rows: the whole model, as BltForCausalLM computes row by row. */
    Tensor forward(TokenBatch batch) {
        checkIds(batch.packed());
        int rows = batch.rows(), t = batch.totalTokens();
        double[][] ent = entropies(batch);
        Plan[] plans = new Plan[rows];
        int totalPatches = 0;
        for (int r = 0; r < rows; r++) {
            plans[r] = plan(batch.row(r), ent[r]);
            totalPatches += plans[r].patches();
        }
        // packed patch segments over the packed bytes; patch rows per sequence; decoder runs
        int[] byteStarts = new int[totalPatches + 1], patchCu = new int[rows + 1];
        List<Integer> runStarts = new ArrayList<>(), runSlots = new ArrayList<>();
        int p = 0;
        for (int r = 0; r < rows; r++) {
            Plan pl = plans[r];
            int off = batch.offset(r), len = batch.length(r);
            for (int i = 0; i < len; i++) if (i == 0 || pl.encPatch()[i] != pl.encPatch()[i - 1]) byteStarts[p++] = off + i;
            patchCu[r + 1] = p;
            for (int i = 0; i < len; i++) {
                if (i == 0 || pl.decPatch()[i] != pl.decPatch()[i - 1]) {
                    runStarts.add(off + i);
                    runSlots.add(patchCu[r] + pl.decPatch()[i]);
                }
            }
        }
        byteStarts[totalPatches] = t;
        int runs = runStarts.size(), k = l.crossAttnK();
        int[] cuRuns = new int[runs + 1], slotIdx = new int[runs * k];
        for (int j = 0; j < runs; j++) {
            cuRuns[j] = runStarts.get(j);
            for (int i = 0; i < k; i++) slotIdx[j * k + i] = runSlots.get(j) * k + i;
        }
        cuRuns[runs] = t;
        int[] patchPos = new int[totalPatches];
        for (int r = 0; r < rows; r++) for (int i = patchCu[r]; i < patchCu[r + 1]; i++) patchPos[i] = i - patchCu[r];

        int[] offsets = batch.offsets();
        try (Tensor pos = arena.fromInts(batch.positions(), t); Tensor cu = arena.fromInts(offsets, rows + 1)) {
            Tensor states = run(encoder, embed(batch, null), pos, cu, offsets, null, 0);
            try (states) {
                Tensor g;
                try (Tensor po = patchOutputs(states, byteStarts); Tensor gi = globalInput(po);
                     Tensor gp = arena.fromInts(patchPos, totalPatches); Tensor gc = arena.fromInts(patchCu, rows + 1)) {
                    g = run(global, arena.empty(gi.dtype(), gi.shape()).copyFrom(gi), gp, gc, patchCu, null, 0);
                }
                Tensor keys;
                try (g; Tensor sl = slots(g); Tensor idx = arena.fromInts(slotIdx, slotIdx.length)) {
                    keys = ops.embedding(sl, idx);
                }
                try (keys; Tensor h = decodeBytes(states, keys, cuRuns, pos, cu, offsets, null, 0)) {
                    return logits(h);
                }
            }
        }
    }

    /**
     * The local decoder over byte states (T, H) of a packed batch: run j, bytes [cuRuns[j], cuRuns[j + 1]),
     * cross-attends the k slot rows keys[j·k, j·k + k) before each cross layer; the layers fill {@code caches}
     * (row r: sequence firstSlot + r) when given. Returns h (T, H) before the final norm.
     */
    Tensor decodeBytes(Tensor states, Tensor keys, int[] cuRuns, Tensor pos, Tensor cu, int[] offsets, KvCache[] caches, int firstSlot) {
        int runs = cuRuns.length - 1, k = l.crossAttnK();
        int[] cuSlots = new int[runs + 1];
        for (int j = 0; j <= runs; j++) cuSlots[j] = j * k;
        try (Tensor cq = arena.fromInts(cuRuns, runs + 1); Tensor ck = arena.fromInts(cuSlots, runs + 1)) {
            Tensor h = arena.empty(states.dtype(), states.shape()).copyFrom(states);
            for (int i = 0; i < decoder.size(); i++) {
                PatchCrossAttention x = decoderCross(i);
                if (x != null) {
                    try (Tensor in = h; Tensor o = x.forward(ops, in, cq, keys, ck)) {
                        h = ops.add(in, o);
                    }
                }
                SelfAttention a = decoder.attns().get(i);
                KvCache cache = caches == null ? null : caches[i];
                try (Tensor in = h) {
                    h = decoder.blocks().get(i).apply(ops, in, y -> a.forward(ops, y, pos, cu, offsets, cache, firstSlot));
                }
            }
            return h;
        }
    }

    void checkIds(int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + ids[i] + " (at " + i + ") is out of range for vocab size " + c.vocabSize());
            }
        }
    }

    DType dtype() {
        return w.dtype();
    }
}
