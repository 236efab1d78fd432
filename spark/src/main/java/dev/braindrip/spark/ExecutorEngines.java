package dev.braindrip.spark;

import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.io.tokenizer.Tokenizer;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkFiles;

/**
 * The engines of one executor JVM: a model and its generator per (model, device, precision,
 * generator shape), loaded by the first task that needs it and reused by every later task and
 * partition, also by tasks running at the same time (a {@link Generator} takes requests from
 * several threads and batches them together). Closed when the JVM shuts down.
 *
 * <p>An engine whose generator stopped running (closed, or its engine thread died on an error) is
 * evicted by the next {@link #get}, which loads a fresh one; the broken one is closed once the
 * tasks that still hold it have {@link #release}d it.
 */
public final class ExecutorEngines {
    private static final Map<Key, Engine> ENGINES = new HashMap<>();
    private static final List<Engine> EVICTED = new ArrayList<>(); // still held by a task; closed on their last release
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static boolean hooked;

    private ExecutorEngines() {}

    /** What makes two engines the same. */
    private record Key(String model, boolean shipped, String device, DType dtype, GeneratorOptions options) {}

    /** A loaded model, its tokenizer (null: token ids only) and the generator over them. */
    public static final class Engine implements AutoCloseable {
        private final Transformer model;
        private final Tokenizer tokenizer;
        private final Generator generator;
        private int users; // tasks holding it (guarded by ENGINES)
        private boolean evicted;

        private Engine(Transformer model, Tokenizer tokenizer, Generator generator) {
            this.model = model;
            this.tokenizer = tokenizer;
            this.generator = generator;
        }

        public Transformer model() {
            return model;
        }

        public Tokenizer tokenizer() {
            return tokenizer;
        }

        public Generator generator() {
            return generator;
        }

        /** Whether the model reads and writes text (a tokenizer, or byte-level). */
        public boolean text() {
            return tokenizer != null;
        }

        @Override
        public void close() {
            try (Transformer m = model; Tokenizer t = tokenizer; Generator g = generator) {
                // closed in reverse order: generator, tokenizer, model
            }
        }
    }

    /**
     * The engine for this spec on this device, loading it on first use in this JVM (and again when
     * the cached one stopped running). The caller holds it until {@link #release}.
     */
    public static Engine get(GenerateSpec spec, Device device) {
        DType dtype = spec.dtype(device);
        Key key = new Key(spec.model(), spec.shippedModel(), device.toString(), dtype, spec.generatorOptions());
        Engine broken = null;
        synchronized (ENGINES) {
            Engine e = ENGINES.get(key);
            if (e != null && e.generator.isRunning()) {
                e.users++;
                return e;
            }
            if (e != null) { // closed or failed: never handed out again
                ENGINES.remove(key);
                e.evicted = true;
                if (e.users == 0) broken = e;
                else EVICTED.add(e);
            }
            if (!hooked) {
                Runtime.getRuntime().addShutdownHook(new Thread(ExecutorEngines::closeAll, "braindrip-engines-close"));
                hooked = true;
            }
            try {
                e = load(spec, device, dtype);
            } finally {
                if (broken != null) closeQuietly(broken);
            }
            ENGINES.put(key, e);
            LOADS.incrementAndGet();
            e.users++;
            return e;
        }
    }

    /** A task is done with an engine from {@link #get}: an evicted one closes when its last task lets it go. */
    public static void release(Engine e) {
        synchronized (ENGINES) {
            if (e.users > 0) e.users--;
            if (!e.evicted || e.users > 0 || !EVICTED.remove(e)) return;
        }
        closeQuietly(e);
    }

    private static void closeQuietly(Engine e) {
        try {
            e.close();
        } catch (RuntimeException ignored) {
            // already broken: its failure reached the requests that were running on it
        }
    }

    private static Engine load(GenerateSpec spec, Device device, DType dtype) {
        device.requireUsable();
        Transformer m;
        try {
            m = spec.shippedModel() ? Transformer.load(shipped(spec.model()), device, dtype) : Transformer.load(spec.model(), device, dtype);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
        Tokenizer tok = null;
        try {
            tok = Generator.tokenizerOf(m);
            return new Engine(m, tok, new Generator(m, tok, spec.generatorOptions()));
        } catch (RuntimeException e) {
            if (tok != null) tok.close();
            m.close();
            throw e;
        }
    }

    /** A model shipped to this executor ({@code --files}, {@code --archives}, {@code addFile(dir, true)}): its local copy. */
    static Path shipped(String name) {
        Path p = Path.of(SparkFiles.get(name));
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("model '" + name + "' was not shipped to this executor: " + p + " does not exist "
                    + "(ship it with spark-submit --files/--archives or SparkContext.addFile(dir, true))");
        }
        return p;
    }

    /** How many engines this JVM has loaded (each model loads once per JVM and spec). */
    public static int loads() {
        return LOADS.get();
    }

    /** Closes every engine of this JVM (the shutdown hook does this; a driver in local mode may call it after stopping Spark). */
    public static void closeAll() {
        List<Engine> es;
        synchronized (ENGINES) {
            es = new ArrayList<>(ENGINES.values());
            es.addAll(EVICTED);
            ENGINES.clear();
            EVICTED.clear();
        }
        for (Engine e : es) closeQuietly(e); // shutting down: nothing left to report to
    }
}
