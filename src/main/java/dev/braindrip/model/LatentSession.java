package dev.braindrip.model;

import dev.braindrip.nn.KvCache;
import dev.braindrip.nn.PatchCrossAttention;
import dev.braindrip.nn.SelfAttention;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Incremental decoding of a Byte Latent Transformer, byte by byte, with a cache at every level
 * (the state behind a {@link Session} of a BLT model):
 * <ul>
 *   <li>the patcher, the local encoder and the local decoder keep batched KV caches over bytes —
 *       every live sequence advances one byte per step, one kernel call per op for all of them;</li>
 *   <li>the global transformer keeps one KV cache per sequence over its closed patches and runs one
 *       step when a sequence closes a patch, never over the whole sequence again;</li>
 *   <li>each decoder cross-attention keeps, per sequence, the keys and values of the k slots of the
 *       last closed patch — the only patch a new byte reads;</li>
 *   <li>the open patch's encoder byte states wait on the host until it closes; the hash n-grams
 *       read the sequence's last ids.</li>
 * </ul>
 * Byte t's row reads the patch before the one holding byte t + 1. Whether byte t + 1 starts a
 * patch is known once byte t is in (its entropy, or the length of the open patch under
 * max_patch_length), so a patch closes, and the global model steps, before the decoder runs byte
 * t. Every step's logits equal row t of a full forward over the sequence so far and its
 * continuation (Hugging Face's forward over the prefix itself gives the same last row, except
 * under max_patch_length, where its last byte never reads its own closing patch).
 */
final class LatentSession implements AutoCloseable {
    private final ByteLatent m;
    private final LatentSpec l;
    private final Arena arena;
    private final Ops ops;
    private final int batch, capacity;
    private final KvCache[] patcherKv, encKv, decKv, crossKv;
    private final KvCache[][] globalKv;          // [sequence][layer]
    private final Seq[] seqs;

    /** A sequence's host state. */
    private static final class Seq {
        int[] ids = new int[16];
        int n;                                  // bytes held
        double[] entropy = new double[16];
        List<float[]> open = new ArrayList<>(); // encoder byte states of the open patch
        int patches;                            // closed patches (global positions used)

        void add(int id, double e) {
            if (n == ids.length) {
                ids = Arrays.copyOf(ids, n * 2);
                entropy = Arrays.copyOf(entropy, n * 2);
            }
            ids[n] = id;
            entropy[n++] = e;
        }
    }

    LatentSession(ByteLatent m, Arena arena, int batch, int capacity) {
        this.m = m;
        this.l = m.spec();
        this.arena = arena;
        this.ops = Ops.on(arena);
        this.batch = batch;
        this.capacity = capacity;
        this.seqs = new Seq[batch];
        for (int b = 0; b < batch; b++) seqs[b] = new Seq();
        List<KvCache> made = new ArrayList<>();
        try {
            patcherKv = m.patcher() == null || !l.patching().needsPatcher() ? null : caches(made, l.patcher(), batch, capacity);
            encKv = caches(made, l.encoder(), batch, capacity);
            decKv = caches(made, l.decoder(), batch, capacity);
            int crossLayers = l.decoderCrossAll() ? l.decoder().layers() : 1;
            crossKv = new KvCache[crossLayers];
            PatchCrossAttention x0 = m.decoderCross(0);
            for (int j = 0; j < crossLayers; j++) {
                crossKv[j] = KvCache.dense(arena, batch, l.crossAttnK(), x0.kvHeads(), x0.headDim(), m.dtype());
                made.add(crossKv[j]);
            }
            globalKv = new KvCache[batch][];
            for (int b = 0; b < batch; b++) globalKv[b] = caches(made, l.global(), 1, capacity);
        } catch (RuntimeException e) {
            for (KvCache c : made) c.close();
            throw e;
        }
    }

    private KvCache[] caches(List<KvCache> made, LatentSpec.Stage s, int n, int cap) {
        KvCache[] out = new KvCache[s.layers()];
        for (int i = 0; i < out.length; i++) {
            out[i] = KvCache.dense(arena, n, cap, s.kvHeads(), s.headDim(), m.dtype());
            made.add(out[i]);
        }
        return out;
    }

    /** KV-cache bytes one sequence slot holds for {@code capacity} bytes (the global cache sized for one patch per byte). */
    static long slotBytes(LatentSpec l, dev.braindrip.tensor.DType dtype, int capacity) {
        long total = 0;
        for (LatentSpec.Stage s : l.patching().needsPatcher() ? List.of(l.patcher(), l.encoder(), l.decoder(), l.global())
                : List.of(l.encoder(), l.decoder(), l.global())) {
            total += 2L * s.kvHeads() * s.headDim() * dtype.bytes() * s.layers() * capacity;
        }
        int crossLayers = l.decoderCrossAll() ? l.decoder().layers() : 1;
        total += 2L * l.decoder().hidden() * dtype.bytes() * crossLayers * l.crossAttnK(); // kvHeads · headDim ≤ hidden
        return total;
    }

    long cacheBytes() {
        long n = 0;
        for (KvCache[] cs : new KvCache[][] {patcherKv, encKv, decKv, crossKv}) if (cs != null) for (KvCache c : cs) n += c.bytes();
        for (KvCache[] cs : globalKv) for (KvCache c : cs) n += c.bytes();
        return n;
    }

    /** Whether byte t (the next one, t = n) starts a patch, for a sequence holding n bytes. */
    private boolean nextStarts(Seq s) {
        int t = s.n;
        if (ByteLatent.starts(l, t, s.ids, s.entropy)) return true;
        return l.maxPatchLength() > 0 && s.open.size() >= l.maxPatchLength();
    }

    // ---------------------------------------------------------------- prefill

    /** Starts sequences firstSlot + r with the prompts' bytes; returns each row's last logits (rows, V). */
    Tensor prefill(TokenBatch prompts, int firstSlot) {
        m.checkIds(prompts.packed());
        int rows = prompts.rows(), t = prompts.totalTokens();
        for (int r = 0; r < rows; r++) reset(firstSlot + r);
        int[] offsets = prompts.offsets();
        double[][] ent = new double[rows][];
        try (Tensor pos = arena.fromInts(prompts.positions(), t); Tensor cu = arena.fromInts(offsets, rows + 1)) {
            if (patcherKv != null) {
                float[] lg;
                try (Tensor ids = arena.fromInts(prompts.packed(), t); Tensor h0 = m.patcherEmbed(ids);
                     Tensor h = m.run(m.patcher(), copy(h0), pos, cu, offsets, patcherKv, firstSlot); Tensor out = m.patcherLogits(h)) {
                    lg = out.toFloatArray();
                }
                double[] all = ByteLatent.entropies(lg, t, lg.length / t);
                for (int r = 0; r < rows; r++) ent[r] = Arrays.copyOfRange(all, offsets[r], offsets[r + 1]);
            }
            for (int r = 0; r < rows; r++) {
                Seq s = seqs[firstSlot + r];
                int[] row = prompts.row(r);
                for (int i = 0; i < row.length; i++) s.add(row[i], ent[r] == null ? 0 : ent[r][i]);
            }
            Tensor states = m.run(m.encoder(), m.embed(prompts, null), pos, cu, offsets, encKv, firstSlot);
            try (states) {
                float[] st = states.toFloatArray();
                int he = l.encoder().hidden(), k = l.crossAttnK();
                // per row: its patches; the closed ones go through the global model (its own cache); the open one waits
                List<Integer> runStarts = new ArrayList<>();
                List<Tensor> rowKeys = new ArrayList<>();
                int[][] decPatch = new int[rows][];
                try {
                    for (int r = 0; r < rows; r++) {
                        Seq s = seqs[firstSlot + r];
                        ByteLatent.Plan plan = m.plan(prompts.row(r), ent[r]);
                        int len = prompts.length(r), off = offsets[r], mPatches = plan.patches();
                        int[] bs = new int[mPatches + 1];
                        int p = 0;
                        for (int i = 0; i < len; i++) if (i == 0 || plan.encPatch()[i] != plan.encPatch()[i - 1]) bs[p++] = off + i;
                        bs[mPatches] = off + len;
                        int lastStart = bs[mPatches - 1] - off;
                        for (int i = lastStart; i < len; i++) s.open.add(Arrays.copyOfRange(st, (off + i) * he, (off + i + 1) * he));
                        boolean closedLast = nextStarts(s);
                        int closed = closedLast ? mPatches : mPatches - 1;
                        if (closedLast) s.open.clear();
                        int[] d = plan.decPatch().clone();
                        if (closedLast) d[len - 1] = mPatches - 1; // the last byte reads its own patch, which has closed
                        decPatch[r] = d;
                        // the global model over the closed patches (batch 1, its own cache)
                        Tensor g;
                        int[] local = new int[closed + 1];
                        for (int i = 0; i <= closed; i++) local[i] = bs[i] - bs[0];
                        try (Tensor po = m.patchOutputs(states.narrow(bs[0], bs[closed] - bs[0]), local); Tensor gi = m.globalInput(po);
                             Tensor gp = arena.fromInts(range(closed), closed); Tensor gc = arena.fromInts(new int[] {0, closed}, 2)) {
                            g = m.run(m.global(), copy(gi), gp, gc, new int[] {0, closed}, globalKv[firstSlot + r], 0);
                        }
                        s.patches = closed;
                        try (g) {
                            rowKeys.add(m.slots(g)); // (closed·k, H_dec)
                        }
                        setCross(firstSlot + r, rowKeys.get(r), closed - 1);
                    }
                    // the decoder over every prompt byte: runs of bytes reading the same patch, as the forward does
                    List<Integer> slotRows = new ArrayList<>();
                    int base = 0;
                    int[] keyBase = new int[rows];
                    for (int r = 0; r < rows; r++) {
                        keyBase[r] = base;
                        base += (int) rowKeys.get(r).dim(0);
                    }
                    for (int r = 0; r < rows; r++) {
                        for (int i = 0; i < prompts.length(r); i++) {
                            if (i == 0 || decPatch[r][i] != decPatch[r][i - 1]) {
                                runStarts.add(offsets[r] + i);
                                for (int j = 0; j < k; j++) slotRows.add(keyBase[r] + decPatch[r][i] * k + j);
                            }
                        }
                    }
                    int runs = runStarts.size();
                    int[] cuRuns = new int[runs + 1];
                    for (int j = 0; j < runs; j++) cuRuns[j] = runStarts.get(j);
                    cuRuns[runs] = t;
                    Tensor keys;
                    try (Tensor allKeys = concat(rowKeys); Tensor idx = arena.fromInts(slotRows.stream().mapToInt(Integer::intValue).toArray(),
                            slotRows.size())) {
                        keys = ops.embedding(allKeys, idx);
                    }
                    int[] last = new int[rows];
                    for (int r = 0; r < rows; r++) last[r] = offsets[r + 1] - 1;
                    try (keys; Tensor h = m.decodeBytes(states, keys, cuRuns, pos, cu, offsets, decKv, firstSlot);
                         Tensor idx = arena.fromInts(last, rows); Tensor lastRows = ops.embedding(h, idx)) {
                        return m.logits(lastRows);
                    }
                } finally {
                    for (Tensor x : rowKeys) x.close();
                }
            }
        }
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = i;
        return r;
    }

    private Tensor copy(Tensor x) {
        return arena.empty(x.dtype(), x.shape()).copyFrom(x);
    }

    private Tensor concat(List<Tensor> parts) {
        long rows = 0, width = parts.get(0).dim(1);
        for (Tensor p : parts) rows += p.dim(0);
        Tensor out = arena.empty(parts.get(0).dtype(), rows, width);
        long at = 0, rowBytes = width * out.dtype().bytes();
        for (Tensor p : parts) {
            out.copyRange(p, 0, at * rowBytes, p.dim(0) * rowBytes);
            at += p.dim(0);
        }
        return out;
    }

    /** Sequence b's decoder cross caches: the keys and values of patch {@code patch}'s k slots of {@code keys} (patches·k, H_dec). */
    private void setCross(int b, Tensor keys, int patch) {
        int k = l.crossAttnK();
        Tensor slots = keys.narrow((long) patch * k, k);
        for (int j = 0; j < crossKv.length; j++) {
            PatchCrossAttention x = m.decoderCross(j);
            Tensor[] kv = x.keysValues(ops, slots);
            try (Tensor kk = kv[0]; Tensor vv = kv[1]) {
                crossKv[j].reset(b);
                crossKv[j].append(b, kk.reshape(k, x.kvHeads(), x.headDim()), vv.reshape(k, x.kvHeads(), x.headDim()));
            }
        }
    }

    // ---------------------------------------------------------------- steps

    /** One new byte for each of the first n sequences, at positions (their lengths); logits (n, V). */
    Tensor step(int[] tokens, int[] positions) {
        m.checkIds(tokens);
        int n = tokens.length;
        try (Tensor ids = arena.fromInts(tokens, n); Tensor pos = arena.fromInts(positions, n)) {
            double[] ent = new double[n];
            if (patcherKv != null) {
                float[] lg;
                try (Tensor h0 = m.patcherEmbed(ids); Tensor h = m.step(m.patcher(), copy(h0), pos, patcherKv); Tensor out = m.patcherLogits(h)) {
                    lg = out.toFloatArray();
                }
                ent = ByteLatent.entropies(lg, n, lg.length / n);
            }
            for (int b = 0; b < n; b++) seqs[b].add(tokens[b], ent[b]);
            Tensor states = m.step(m.encoder(), embed(tokens, n), pos, encKv);
            try (states) {
                float[] st = states.toFloatArray();
                int he = l.encoder().hidden();
                for (int b = 0; b < n; b++) {
                    Seq s = seqs[b];
                    s.open.add(Arrays.copyOfRange(st, b * he, (b + 1) * he));
                    if (nextStarts(s)) closePatch(b);
                }
                Tensor h = copy(states);
                for (int i = 0; i < m.decoder().size(); i++) {
                    PatchCrossAttention x = m.decoderCross(i);
                    if (x != null) {
                        KvCache cache = crossKv[l.decoderCrossAll() ? i : 0];
                        try (Tensor in = h; Tensor o = x.step(ops, in, cache)) {
                            h = ops.add(in, o);
                        }
                    }
                    SelfAttention a = m.decoder().attns().get(i);
                    KvCache cache = decKv[i];
                    try (Tensor in = h) {
                        h = m.decoder().blocks().get(i).apply(ops, in, y -> a.step(ops, y, pos, cache));
                    }
                }
                try (Tensor in = h) {
                    return m.logits(in);
                }
            }
        }
    }

    /** The encoder input of one new byte per sequence: embed_tokens + the hash rows of each sequence's last ids. */
    private Tensor embed(int[] tokens, int n) {
        try (Tensor ids = arena.fromInts(tokens, n)) {
            Tensor h = m.encEmbed(ids);
            if (m.hashTable() == null) return h;
            int groups = l.hashFunctions() * l.hashSizes().size(), window = 0;
            for (int s : l.hashSizes()) window = Math.max(window, s);
            int[][] rows = new int[groups][n];
            for (int b = 0; b < n; b++) {
                Seq s = seqs[b];
                int from = Math.max(0, s.n - window);
                int[] tail = Arrays.copyOfRange(s.ids, from, s.n);
                long[][] hr = ByteLatent.hashRows(tail, l.hashSizes(), l.hashFunctions(), l.hashVocab());
                // the last position of the tail has the same n-grams as in the whole sequence when the tail is long enough or starts at 0
                for (int e = 0; e < groups; e++) rows[e][b] = (int) hr[e][tail.length - 1];
            }
            for (int e = 0; e < groups; e++) {
                try (Tensor in = h; Tensor idx = arena.fromInts(rows[e], n); Tensor g = ops.embedding(m.hashTable(), idx)) {
                    h = ops.add(in, g);
                }
            }
            return h;
        }
    }

    /** Sequence b's open patch closes: its encoder output, one global step, and its slots for the decoder. */
    private void closePatch(int b) {
        Seq s = seqs[b];
        int len = s.open.size(), he = l.encoder().hidden();
        float[] rows = new float[len * he];
        for (int i = 0; i < len; i++) System.arraycopy(s.open.get(i), 0, rows, i * he, he);
        try (Tensor st = arena.fromFloats(rows, m.dtype(), len, he); Tensor po = m.patchOutputs(st, new int[] {0, len});
             Tensor gi = m.globalInput(po); Tensor gp = arena.fromInts(new int[] {s.patches}, 1)) {
            Tensor g = m.step(m.global(), copy(gi), gp, globalKv[b]);
            try (g; Tensor keys = m.slots(g)) {
                setCross(b, keys, 0);
            }
        }
        s.patches++;
        s.open.clear();
    }

    // ---------------------------------------------------------------- slots

    void reset(int b) {
        for (KvCache[] cs : new KvCache[][] {patcherKv, encKv, decKv, crossKv}) if (cs != null) for (KvCache c : cs) c.reset(b);
        for (KvCache c : globalKv[b]) c.reset(0);
        seqs[b] = new Seq();
    }

    void move(int from, int to) {
        for (KvCache[] cs : new KvCache[][] {patcherKv, encKv, decKv, crossKv}) if (cs != null) for (KvCache c : cs) c.move(from, to);
        KvCache[] g = globalKv[to];
        globalKv[to] = globalKv[from];
        globalKv[from] = g;
        seqs[to] = seqs[from];
        reset(from);
    }

    int capacity() {
        return capacity;
    }

    @Override
    public void close() {
        for (KvCache[] cs : new KvCache[][] {patcherKv, encKv, decKv, crossKv}) if (cs != null) for (KvCache c : cs) c.close();
        for (KvCache[] cs : globalKv) for (KvCache c : cs) c.close();
    }
}
