package dev.braindrip.generate;

import dev.braindrip.io.tokenizer.ByteTokenizer;
import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.io.tokenizer.TokenizerHints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.Session;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Batch generation with continuous batching over one model. Requests may be submitted from any
 * thread; one engine thread runs the model. Each scheduler iteration
 * <ol>
 *   <li>admits waiting requests (first come, first served) into free sequence slots, as many as
 *       the slots and {@link GeneratorOptions#maxPrefillTokens} allow, and prefills their prompts
 *       together as one ragged batch, sampling each one's first token;</li>
 *   <li>runs one decode step over every live sequence (one kernel call per op for the whole batch)
 *       and samples the next token of each, on the device, in one call;</li>
 *   <li>retires the sequences that finished (EOS, a stop id or string, max_tokens, the context):
 *       they leave at once, the last live sequence moves into the freed slot, and a waiting
 *       request takes the free slot at the next iteration.</li>
 * </ol>
 * The KV cache is a fixed pool of slots sized from {@link GeneratorOptions#kvBudgetBytes}: memory
 * never grows past the budget, and requests wait while every slot is busy. Per-layer caches follow
 * the layer kind (dense, a ring for sliding windows, StreamingLLM sinks + window when
 * {@link GeneratorOptions#streaming} is set). A request's samples depend only on its own seed and
 * step, never on the batch around it.
 *
 * <p>An encoder-decoder model (T5) takes each prompt as its source: admission encodes it once,
 * keeps every decoder layer's cross-attention keys and values in a static per-slot cache, and the
 * decoder starts at the model's decoder start token; decode steps run the decoder alone, and the
 * penalties and the length limit count the decoder's tokens (start token and output).
 *
 * <p>The model must not be used by other threads while a generator runs on it.
 */
public final class Generator implements AutoCloseable {
    private final Transformer model;
    private final Tokenizer tokenizer; // null: token ids only
    private final boolean ownsTokenizer;
    private final GeneratorOptions options;
    private final Set<Integer> eos;
    private final int[] decoderStart; // an encoder-decoder's first decoder ids (the start token), or null for a decoder
    private final int capacity, slots, context;
    private final Session session;
    private final BatchSampler sampler;
    private final LinkedBlockingQueue<Sequence> incoming = new LinkedBlockingQueue<>();
    private final AtomicLong submitted = new AtomicLong();
    private final Thread worker;
    private final Stats stats = new Stats();
    private volatile boolean closed;
    private volatile Throwable fatal;
    private boolean stopped; // the engine thread takes no more requests; guarded by incoming

    /** A generator over {@code model} with the tokenizer of its directory (or byte-level / ids only). */
    public static Generator of(Transformer model, GeneratorOptions options) {
        return new Generator(model, tokenizerOf(model), true, options);
    }

    /**
     * The tokenizer a model reads text with (CLI.md): its directory's tokenizer.json, else
     * byte-level when its vocabulary holds the 256 byte values, else null (token ids only).
     */
    public static Tokenizer tokenizerOf(Transformer model) {
        try {
            if (model.directory().isPresent()) return ModelText.tokenizer(model.directory().get(), model.config()).orElse(null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelConfig c = model.config();
        if (!ModelText.isByteLevel(c)) return null;
        TokenizerHints h = ModelText.hints(c);
        return new ByteTokenizer(c.vocabSize(), h.byteOffset(), h.bosId(), new HashSet<>(h.eosIds()));
    }

    public static Generator of(Transformer model) {
        return of(model, GeneratorOptions.defaults());
    }

    /** A generator with this tokenizer (null: the model takes token ids only); the caller keeps ownership of the tokenizer. */
    public Generator(Transformer model, Tokenizer tokenizer, GeneratorOptions options) {
        this(model, tokenizer, false, options);
    }

    private Generator(Transformer model, Tokenizer tokenizer, boolean ownsTokenizer, GeneratorOptions options) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.ownsTokenizer = ownsTokenizer;
        this.options = options;
        ModelConfig c = model.config();
        if (c.stack() == ModelConfig.Stack.ENCODER) {
            throw new UnsupportedOperationException("generate: " + c.architecture() + " is an encoder; generation needs a decoder");
        }
        this.decoderStart = c.isEncoderDecoder() ? new int[] {c.decoderStartTokenId()} : null;
        Set<Integer> e = new HashSet<>(c.eosTokenIds());
        if (tokenizer != null) e.addAll(tokenizer.eosIds());
        this.eos = Set.copyOf(e);
        this.context = c.maxPositions();
        int cap = options.maxSequenceLength() > 0 ? Math.min(options.maxSequenceLength(), context) : context;
        if (options.streaming() != null) cap = Math.min(cap, options.streaming().tokens()); // what the dense (MoD) layers would need; unused otherwise
        this.capacity = cap;
        long perSlot = Session.slotBytes(c, model.dtype(), capacity, options.streaming());
        long fit = perSlot == 0 ? options.maxBatch() : options.kvBudgetBytes() / perSlot;
        if (fit < 1) {
            throw new IllegalArgumentException("generate: the KV-cache budget of " + options.kvBudgetBytes() + " bytes holds no sequence of " + capacity
                    + " tokens (" + perSlot + " bytes each); raise the budget or lower the maximum sequence length");
        }
        this.slots = (int) Math.min(options.maxBatch(), fit);
        this.session = model.session(slots, capacity, options.streaming());
        this.sampler = new BatchSampler(model);
        this.worker = new Thread(this::run, "braindrip-generator");
        worker.setDaemon(true);
        worker.start();
    }

    /** The tokenizer (null when the model takes ids only). */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Sequences that decode together (the slots the KV budget gives, at most maxBatch). */
    public int slots() {
        return slots;
    }

    /** Tokens one sequence may hold (prompt and output); unbounded with streaming. */
    public long maxSequenceTokens() {
        return session.maxTokens();
    }

    /** KV-cache bytes held. */
    public long cacheBytes() {
        return session.cacheBytes();
    }

    /** Prompt ids of a request: text through the tokenizer (special tokens as the tokenizer adds them; BOS for a byte-level model), ids as given, a chat through the template. */
    public int[] encode(Prompt prompt) {
        return encode(prompt, tokenizer, model.config().vocabSize());
    }

    /** {@link #encode(Prompt)} with a given tokenizer (null: ids only) and vocabulary size. */
    public static int[] encode(Prompt prompt, Tokenizer tokenizer, int vocab) {
        int[] ids;
        if (prompt instanceof Prompt.Tokens t) {
            ids = t.ids();
        } else if (prompt instanceof Prompt.Text t) {
            if (tokenizer == null) throw new IllegalArgumentException("prompt: this model has no tokenizer and is not byte-level; give token ids");
            ids = tokenizer.encode(t.text(), true);
        } else {
            Prompt.Chat c = (Prompt.Chat) prompt;
            if (tokenizer == null) throw new IllegalArgumentException("messages: this model has no tokenizer and no chat template; give token ids");
            if (!tokenizer.hasChatTemplate()) throw new IllegalArgumentException("messages: the model's tokenizer_config.json has no chat_template");
            ids = tokenizer.encode(tokenizer.applyChatTemplate(c.messages(), true), false);
        }
        if (ids.length == 0) throw new IllegalArgumentException("prompt: it encodes to no tokens");
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) throw new IllegalArgumentException("tokens: id " + ids[i] + " (at " + i + ") is out of range for vocab size " + vocab);
        }
        return ids;
    }

    /** Checks that a prompt of {@code n} tokens fits: at most the context (and this generator's sequence length), unless streaming. */
    private void checkFits(int n) {
        if (session.streaming() != null) return;
        if (n > capacity) {
            throw new IllegalArgumentException("prompt: " + n + " tokens, more than " + (capacity < context
                    ? "the generator's maximum sequence length (" + capacity + ")" : "the model's context (max_position_embeddings " + context + ")"));
        }
    }

    /**
     * Queues a request; the future completes with its completion (exceptionally when it cannot run,
     * or cancelled: {@code future.cancel(...)} stops its generation and frees its slot). The
     * callback, when given, sees each generated token on the engine thread as it is made.
     */
    public CompletableFuture<Completion> submit(Prompt prompt, SamplingParams params, Consumer<GeneratedToken> onToken) {
        return submitAll(List.of(prompt), List.of(params), onToken == null ? null : List.of(onToken)).get(0);
    }

    /**
     * Queues several requests at once: the engine sees all of them together, so they are admitted
     * (and prefilled) in one batch as far as the free slots allow. {@code params} holds one entry
     * per prompt or a single one for all; {@code onToken} likewise, or null.
     */
    public List<CompletableFuture<Completion>> submitAll(List<Prompt> prompts, List<SamplingParams> params,
                                                         List<Consumer<GeneratedToken>> onToken) {
        if (params.size() != 1 && params.size() != prompts.size()) {
            throw new IllegalArgumentException("submitAll: " + params.size() + " sampling params for " + prompts.size() + " prompts");
        }
        if (onToken != null && onToken.size() != 1 && onToken.size() != prompts.size()) {
            throw new IllegalArgumentException("submitAll: " + onToken.size() + " callbacks for " + prompts.size() + " prompts");
        }
        List<CompletableFuture<Completion>> out = new ArrayList<>(prompts.size());
        List<Sequence> ready = new ArrayList<>(prompts.size());
        long first = submitted.getAndAdd(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            SamplingParams p = params.get(params.size() == 1 ? 0 : i);
            Consumer<GeneratedToken> cb = onToken == null ? null : onToken.get(onToken.size() == 1 ? 0 : i);
            CompletableFuture<Completion> f = new CompletableFuture<>();
            out.add(f);
            if (closed || fatal != null) {
                f.completeExceptionally(notRunning());
                continue;
            }
            try {
                int[] ids = encode(prompts.get(i));
                checkFits(ids.length);
                for (int id : p.stopTokenIds()) {
                    if (id >= model.config().vocabSize()) throw new IllegalArgumentException("stop_token_ids: " + id + " is out of range for vocab size " + model.config().vocabSize());
                }
                long seed = p.seed() != null ? p.seed() : options.seed() + first + i;
                ready.add(new Sequence(ids, decoderStart == null ? ids : decoderStart, p, seed, f, cb,
                        tokenizer == null ? null : tokenizer.incremental(true)));
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        }
        synchronized (incoming) { // admit() takes the queue under the same lock: a batch arrives whole
            if (!stopped) {
                incoming.addAll(ready);
                return out;
            }
        }
        for (Sequence s : ready) s.fail(notRunning()); // the engine thread has ended: nobody would serve them
        return out;
    }

    /**
     * Whether requests submitted now will be served: the generator is not closed and its engine
     * thread has not died on an error (after which every request fails at once).
     */
    public boolean isRunning() {
        return !closed && fatal == null && worker.isAlive();
    }

    private IllegalStateException notRunning() {
        Throwable t = fatal;
        if (t == null) return new IllegalStateException("generate: the generator is closed");
        return new IllegalStateException("generate: the generator failed: " + (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()), t);
    }

    public CompletableFuture<Completion> submit(Prompt prompt, SamplingParams params) {
        return submit(prompt, params, null);
    }

    /** Generates for each prompt (as one continuous batch) and waits; completions in prompt order. */
    public List<Completion> generate(List<String> prompts, SamplingParams params) {
        List<Prompt> ps = new ArrayList<>();
        for (String p : prompts) ps.add(Prompt.text(p));
        List<CompletableFuture<Completion>> fs = submitAll(ps, List.of(params), null);
        List<Completion> out = new ArrayList<>();
        for (CompletableFuture<Completion> f : fs) out.add(await(f));
        return out;
    }

    /** One request, waited for. */
    public Completion generate(Prompt prompt, SamplingParams params) {
        return await(submit(prompt, params));
    }

    /** One text request whose tokens reach {@code onToken} as they are made; returns its completion. */
    public Completion stream(String prompt, SamplingParams params, Consumer<GeneratedToken> onToken) {
        return await(submit(Prompt.text(prompt), params, onToken));
    }

    /** Waits for a future of this generator, unwrapping its failure. */
    public static Completion await(CompletableFuture<Completion> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new CancellationException("generate: interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }

    /** Throughput counters since the generator was made. */
    public Stats stats() {
        return stats;
    }

    /** Prompt and generated token counts and the time spent in prefill and decode, since creation. */
    public static final class Stats {
        private volatile long promptTokens, generatedTokens, prefillNanos, decodeNanos, decodeSteps;

        public long promptTokens() { return promptTokens; }
        public long generatedTokens() { return generatedTokens; }
        public double prefillSeconds() { return prefillNanos / 1e9; }
        public double decodeSeconds() { return decodeNanos / 1e9; }
        public long decodeSteps() { return decodeSteps; }
    }

    // ---------------------------------------------------------------- the engine thread

    private final List<Sequence> live = new ArrayList<>(); // live.get(s) sits in slot s
    private Sequence held;                                  // a request taken from the queue that is waiting for room

    private void run() {
        try {
            while (!closed) {
                if (live.isEmpty() && held == null) {
                    Sequence s = incoming.take();
                    held = s;
                }
                dropCancelled();
                admit();
                if (!live.isEmpty()) decode();
            }
        } catch (InterruptedException e) {
            // closing
        } catch (Throwable t) {
            fatal = t;
            failAll(t);
        } finally {
            synchronized (incoming) {
                stopped = true; // submitAll fails what comes later itself; failAll drains what came before
            }
            failAll(new CancellationException("generate: the generator was closed"));
        }
    }

    /** Prefills as many waiting requests as the free slots and the prefill token bound allow. */
    private void admit() {
        List<Sequence> batch = new ArrayList<>();
        long tokens;
        synchronized (incoming) { // a batch submitted with submitAll is seen whole
            tokens = take(batch);
        }
        if (batch.isEmpty()) return;
        prefill(batch, tokens);
    }

    /** Moves waiting requests into {@code batch} while slots and the prefill bound allow; returns their prompt tokens. */
    private long take(List<Sequence> batch) {
        long tokens = 0;
        while (live.size() + batch.size() < slots) {
            Sequence s = held != null ? held : incoming.poll();
            held = null;
            if (s == null) break;
            if (s.future.isDone()) continue; // cancelled while waiting
            int n = Math.min(s.prompt.length, session.maxPrefill());
            if (!batch.isEmpty() && tokens + n > options.maxPrefillTokens()) {
                held = s;
                break;
            }
            batch.add(s);
            tokens += n;
        }
        return tokens;
    }

    private void prefill(List<Sequence> batch, long tokens) {
        int first = live.size();
        int[][] rows = new int[batch.size()][];
        for (int i = 0; i < rows.length; i++) {
            Sequence s = batch.get(i);
            s.fed = Math.min(s.prompt.length, session.maxPrefill());
            rows[i] = s.fed == s.prompt.length ? s.prompt : java.util.Arrays.copyOf(s.prompt, s.fed);
            live.add(s);
        }
        long t0 = System.nanoTime();
        try (Tensor logits = session.prefill(TokenBatch.of(rows), first)) {
            advance(logits, first);
        } catch (RuntimeException e) {
            for (int i = live.size() - 1; i >= first; i--) {
                live.get(i).fail(e);
                live.remove(i);
                session.release(i);
            }
            return;
        }
        stats.prefillNanos += System.nanoTime() - t0;
        stats.promptTokens += tokens;
        retire();
    }

    /** One token for every live sequence. */
    private void decode() {
        int n = live.size();
        int[] ids = new int[n];
        for (int s = 0; s < n; s++) ids[s] = live.get(s).pending;
        long t0 = System.nanoTime();
        try (Tensor logits = session.step(ids)) {
            advance(logits, 0);
        } catch (RuntimeException e) {
            for (int s = n - 1; s >= 0; s--) live.get(s).fail(e);
            for (int s = n - 1; s >= 0; s--) session.release(s);
            live.clear();
            return;
        }
        stats.decodeNanos += System.nanoTime() - t0;
        stats.decodeSteps++;
        retire();
    }

    /** Samples the rows of {@code logits} (row r: the sequence in slot first + r) and moves each sequence on. */
    private void advance(Tensor logits, int first) {
        int rows = (int) logits.dim(0);
        List<Sequence> seqs = live.subList(first, first + rows);
        BatchSampler.Result r = sampler.sample(logits, seqs);
        for (int i = 0; i < rows; i++) {
            Sequence s = seqs.get(i);
            if (s.fed < s.prompt.length) {
                s.pending = s.prompt[s.fed++]; // a long prompt under StreamingLLM: the rest goes in as decode steps
                continue;
            }
            try {
                accept(s, r.ids()[i], r.logprob(i));
            } catch (RuntimeException e) {
                s.fail(e); // one request's failure (its detokenizer, its callback) ends that request only
            }
        }
    }

    /** Applies the stop rules to a sampled token (CLI.md: EOS, stop ids, stop strings, max_tokens, the context). */
    private void accept(Sequence s, int token, TokenLogprob lp) {
        SamplingParams p = s.params;
        if (!p.ignoreEos() && eos.contains(token)) {
            s.finish(FinishReason.EOS);
            return;
        }
        if (p.stopTokenIds().contains(token)) {
            s.finish(FinishReason.STOP);
            return;
        }
        s.tokens.add(token);
        if (lp != null) s.logprobs.add(lp);
        stats.generatedTokens++;
        s.pending = token;
        // ids past the tokenizer's vocabulary (a model's padded embedding rows) have no text
        String piece = s.decoder == null ? null : token < tokenizer.vocabSize() ? s.decoder.next(token) : "";
        if (piece != null) s.text.append(piece);
        boolean stopped = false;
        if (piece != null && !p.stop().isEmpty() && !piece.isEmpty()) {
            int from = Math.max(0, s.text.length() - piece.length() - p.maxStopLength() + 1);
            int cut = -1;
            for (String stop : p.stop()) {
                int at = s.text.indexOf(stop, from);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0) {
                s.text.setLength(cut);
                stopped = true;
            }
        }
        // the tokens the decoder holds: the prompt and the output (an encoder-decoder: the start token and the output)
        long held = (long) s.context.length + s.tokens.size();
        FinishReason done = stopped ? FinishReason.STOP
                : s.tokens.size() >= p.maxTokens() ? FinishReason.LENGTH
                : held >= session.maxTokens() ? FinishReason.LENGTH
                : session.streaming() == null && held >= context ? FinishReason.LENGTH
                : null;
        if (stopped) {
            s.emit(token, lp, true);
            s.finish(FinishReason.STOP, false);
            return;
        }
        s.emit(token, lp, false);
        if (done != null) s.finish(done);
    }

    /** Removes finished sequences, keeping the live ones packed in slots [0, n). */
    private void retire() {
        for (int i = live.size() - 1; i >= 0; i--) {
            Sequence s = live.get(i);
            if (!s.over()) continue;
            s.complete();
            int last = live.size() - 1;
            if (i != last) {
                session.move(last, i);
                live.set(i, live.get(last));
            } else {
                session.release(i);
            }
            live.remove(last);
        }
    }

    private void dropCancelled() {
        boolean any = false;
        for (Sequence s : live) any |= s.over();
        if (any) retire();
    }

    private void failAll(Throwable t) {
        for (Sequence s : live) {
            if (s.result != null) s.complete();
            else s.fail(t);
        }
        live.clear();
        if (held != null) held.fail(t);
        held = null;
        List<Sequence> rest = new ArrayList<>();
        incoming.drainTo(rest);
        for (Sequence s : rest) s.fail(t);
    }

    /** Stops the engine (pending requests complete exceptionally) and frees the KV cache. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        worker.interrupt();
        try {
            worker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        session.close();
        sampler.close();
        if (ownsTokenizer && tokenizer != null) tokenizer.close();
    }

    /** One request's state on the engine thread. */
    static final class Sequence {
        final int[] prompt;
        final int[] context; // the decoder's ids before the output: the prompt, or an encoder-decoder's start token (penalties see these)
        final SamplingParams params;
        final long seed;
        final CompletableFuture<Completion> future;
        final Consumer<GeneratedToken> onToken;
        final Tokenizer.IncrementalDecoder decoder;
        final dev.braindrip.ops.SampleBatch.RowParams rowParams;
        final IntList tokens = new IntList();
        final List<TokenLogprob> logprobs = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        int fed;          // prompt tokens in the cache
        int pending;      // the token the next decode step feeds
        int released;     // chars of text given to the callback
        Completion result; // set when the sequence finishes; the future completes when it leaves the batch

        Sequence(int[] prompt, int[] context, SamplingParams params, long seed, CompletableFuture<Completion> future,
                 Consumer<GeneratedToken> onToken, Tokenizer.IncrementalDecoder decoder) {
            this.prompt = prompt;
            this.context = context;
            this.params = params;
            this.seed = seed;
            this.future = future;
            this.onToken = onToken;
            this.decoder = decoder;
            this.rowParams = BatchSampler.rowParams(params, seed);
        }

        /** The generation step of the next draw (Philox counter). */
        long step() {
            return tokens.size();
        }

        /** Streams a token with the text that can no longer become part of a stop string. */
        void emit(int token, TokenLogprob lp, boolean last) {
            if (onToken == null) return;
            int upTo = text.length();
            if (!last && !params.stop().isEmpty()) upTo = Math.max(released, text.length() - (params.maxStopLength() - 1));
            String piece = decoder == null ? "" : text.substring(released, upTo);
            released = upTo;
            try {
                onToken.accept(new GeneratedToken(tokens.size() - 1, token, piece, lp));
            } catch (RuntimeException e) {
                fail(e); // a throwing callback ends its own request only
            }
        }

        void finish(FinishReason reason) {
            finish(reason, true);
        }

        /** Completes the request; {@code flush}: the decoder's last incomplete bytes and the text held back for stop strings go out first. */
        void finish(FinishReason reason, boolean flush) {
            if (flush && decoder != null) text.append(decoder.flush());
            if (onToken != null && released < text.length()) {
                try {
                    onToken.accept(new GeneratedToken(tokens.size(), -1, text.substring(released), null));
                } catch (RuntimeException e) {
                    fail(e);
                    return;
                }
                released = text.length();
            }
            result = new Completion(decoder == null ? null : text.toString(), tokens.toArray(), reason, prompt.length, logprobs);
        }

        /** Finished (its completion is ready, or it failed or was cancelled): it leaves the batch. */
        boolean over() {
            return result != null || future.isDone();
        }

        /** Hands the completion to the caller (after the step's statistics are counted). */
        void complete() {
            if (result != null) future.complete(result);
        }

        void fail(Throwable t) {
            future.completeExceptionally(t);
        }
    }

    /** A growable int array. */
    static final class IntList {
        private int[] a = new int[16];
        private int n;

        void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int size() {
            return n;
        }

        int get(int i) {
            return a[i];
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }

        /** The backing array (valid up to size()). */
        int[] raw() {
            return a;
        }
    }
}
