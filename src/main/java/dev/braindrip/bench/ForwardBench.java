package dev.braindrip.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Prefill throughput of a whole model (`braindrip bench forward`, CLI.md): {@code forward} on a
 * batch × seq batch of random ids, the model loaded once, median and min of the timed repeats
 * after warm-up. FLOPs are the prefill estimate 2 · P · tokens + 4 · layers · heads · headDim ·
 * seq²/2 · batch, where P counts the weights a token multiplies through (every weight except the
 * input embedding tables, which are lookups, unless the embedding is tied to the output head;
 * routed experts at their top-k share). Memory: the activation arena's peak after the first
 * forward and after the last (flat when the reuse pool works), and the process RSS.
 *
 * <p>The peer is Hugging Face transformers on the same checkpoint through
 * {@code scripts/hf_forward_peer.py}, run with /usr/bin/python3 at the same batch, seq, dtype,
 * thread count, warm-up and repeats; a peer that cannot run (no Python, torch or transformers)
 * gives its reason in {@link Result#peerSkipped()} and the bench carries on.
 */
public final class ForwardBench {
    /** The peer script, relative to the project root. */
    public static final String PEER_SCRIPT = "scripts/hf_forward_peer.py";
    public static final String PYTHON = "/usr/bin/python3";

    private ForwardBench() {}

    /** What to run. {@code dtype} null: the checkpoint's own. {@code name}: the model's label in the table. */
    public record Spec(Path dir, String name, Device device, DType dtype, int batch, int seq, long seed) {
        public Spec {
            if (batch < 1) throw new IllegalArgumentException("--batch (" + batch + ") must be >= 1");
            if (seq < 1) throw new IllegalArgumentException("--seq (" + seq + ") must be >= 1");
        }
    }

    /** The peer's figures, as its script printed them. */
    public record Peer(String name, String device, String dtype, double medianMs, double minMs, int repeats, double tokensPerS) {}

    /** One measured model shape. */
    public record Result(String model, String device, String dtype, int batch, int seq, double medianMs, double minMs, int repeats, int warmup,
                         long parameters, long flopParameters, double flops, long weightBytes, long activationPeakAfter1, long activationPeak,
                         int forwards, long rssBytes, long rssPeakBytes, int threads, Peer peer, String peerSkipped) {
        public int tokens() {
            return batch * seq;
        }

        public double tokensPerS() {
            return tokens() / (medianMs * 1e-3);
        }

        public double tflops() {
            return flops / (medianMs * 1e-3) / 1e12;
        }

        /** The --json row, in order: the common bench fields, then the forward-specific ones. */
        public Map<String, Object> row() {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("op", "forward");
            o.put("device", device);
            o.put("dtype", dtype);
            Map<String, Object> shape = new LinkedHashMap<>();
            shape.put("model", model);
            shape.put("batch", batch);
            shape.put("seq", seq);
            o.put("shape", shape);
            o.put("median_ms", medianMs);
            o.put("min_ms", minMs);
            o.put("repeats", repeats);
            o.put("warmup", warmup);
            o.put("tflops", tflops());
            o.put("tokens_per_s", tokensPerS());
            if (peer == null) {
                o.put("peer", null);
            } else {
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("name", peer.name());
                p.put("median_ms", peer.medianMs());
                p.put("tokens_per_s", peer.tokensPerS());
                p.put("min_ms", peer.minMs());
                p.put("repeats", peer.repeats());
                p.put("device", peer.device());
                p.put("dtype", peer.dtype());
                o.put("peer", p);
            }
            if (peerSkipped != null) o.put("peer_skipped", peerSkipped);
            o.put("speedup_vs_peer", peer == null ? null : peer.medianMs() / medianMs);
            o.put("flops", flops);
            o.put("parameters", parameters);
            o.put("flop_parameters", flopParameters);
            o.put("weight_bytes", weightBytes);
            o.put("activation_peak_bytes", activationPeak);
            o.put("activation_peak_bytes_after_1", activationPeakAfter1);
            o.put("forwards", forwards);
            o.put("rss_bytes", rssBytes);
            o.put("rss_peak_bytes", rssPeakBytes);
            o.put("threads", threads);
            return o;
        }
    }

    /** Writes a random model of {@code arch}'s {@code preset} (Checkpoints.writeRandom) into a new temporary directory. */
    public static Path writeRandom(String arch, String preset, DType dtype, long seed) throws IOException {
        ModelConfig c = Architectures.of(arch).preset(preset);
        Path dir = Files.createTempDirectory("braindrip-forward-");
        try {
            Checkpoints.writeRandom(c, dtype, seed, dir);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
        return dir;
    }

    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("braindrip: could not delete " + dir + " (" + e.getMessage() + ")");
        }
    }

    /** Loads the model once, times forward (and the peer when {@code o.peer()}), and returns the row. */
    public static Result run(Spec s, BenchOptions o) throws IOException {
        Result ours;
        try (Transformer m = Transformer.load(s.dir(), s.device(), s.dtype())) {
            ours = measure(m, s, o);
        }
        if (!o.peer()) return ours;
        PeerOutcome p = runPeer(s.dir(), s.batch(), s.seq(), ours.dtype(), ours.threads(), o);
        return new Result(ours.model(), ours.device(), ours.dtype(), ours.batch(), ours.seq(), ours.medianMs(), ours.minMs(), ours.repeats(),
                ours.warmup(), ours.parameters(), ours.flopParameters(), ours.flops(), ours.weightBytes(), ours.activationPeakAfter1(),
                ours.activationPeak(), ours.forwards(), ours.rssBytes(), ours.rssPeakBytes(), ours.threads(), p.peer(), p.skipped());
    }

    static Result measure(Transformer m, Spec s, BenchOptions o) {
        ModelConfig c = m.config();
        SplittableRandom rng = new SplittableRandom(s.seed());
        int[][] rows = new int[s.batch()][s.seq()];
        for (int[] r : rows) for (int i = 0; i < r.length; i++) r[i] = rng.nextInt(c.vocabSize());
        TokenBatch batch = TokenBatch.of(rows);
        long[] peakAfter1 = {-1};
        double[] ms = Timer.time(s.device(), o.warmup(), o.repeats(), i -> {
            m.forward(batch).close(); // the logits go back to the pool before the next forward
            if (i == 0) peakAfter1[0] = m.activations().peakBytes();
        });
        long peak = m.activations().peakBytes();
        long flopParams = flopParameters(m);
        double attention = 4.0 * c.layerCount() * c.heads() * c.headDim() * (double) s.seq() * s.seq() / 2 * s.batch();
        double flops = 2.0 * flopParams * s.batch() * s.seq() + attention;
        long[] rss = rss();
                return new Result(s.name(), s.device().toString(), m.dtype().name().toLowerCase(Locale.ROOT), s.batch(), s.seq(), Timer.median(ms), ms[0], o.repeats(),
                o.warmup(), m.weights().parameters(), flopParams, flops, m.weightBytes(), peakAfter1[0], peak, o.warmup() + o.repeats(), rss[0],
                rss[1], Runtime.getRuntime().availableProcessors(), null, null);
    }

    /** Weights a token multiplies through: all but the lookup tables (the embedding counts when tied to the head); experts at top-k / experts. */
    static long flopParameters(Transformer m) {
        ModelConfig c = m.config();
        boolean embedIsHead = c.stack() != ModelConfig.Stack.ENCODER && c.tieEmbeddings();
        double n = 0;
        for (Map.Entry<String, Tensor> e : m.weights().all().entrySet()) {
            String name = e.getKey();
            if (name.equals("pos_embed") || name.equals("type_embed") || (name.equals("embed") && !embedIsHead)) continue;
            long k = e.getValue().numel();
            n += c.moe() != null && name.contains(".experts.") ? (double) k * c.moe().topK() / c.moe().experts() : k;
        }
        return Math.round(n);
    }

    /** VmRSS and VmHWM of this process in bytes (-1 where /proc is absent). */
    static long[] rss() {
        long[] out = {-1, -1};
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) out[0] = kb(line);
                if (line.startsWith("VmHWM:")) out[1] = kb(line);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return out;
    }

    private static long kb(String line) {
        String[] parts = line.trim().split("\\s+");
        return Long.parseLong(parts[1]) * 1024;
    }

    // ---- the peer

    record PeerOutcome(Peer peer, String skipped) {}

    /**
     * The project root: the system property braindrip.home, the environment's BRAINDRIP_HOME, the
     * folder above the jar (or above target/classes), or the working directory, the first that
     * holds the peer script; null when none does.
     */
    public static Path home() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("braindrip.home");
        if (prop != null && !prop.isBlank()) candidates.add(Path.of(prop));
        String env = System.getenv("BRAINDRIP_HOME");
        if (env != null && !env.isBlank()) candidates.add(Path.of(env));
        try {
            var src = ForwardBench.class.getProtectionDomain().getCodeSource();
            if (src != null && src.getLocation() != null) {
                Path p = Path.of(src.getLocation().toURI()).toAbsolutePath(); // target/braindrip-*.jar or target/classes
                for (int up = 0; up < 3 && p != null; up++, p = p.getParent()) candidates.add(p);
            }
        } catch (Exception e) {
            // an unusual class loader: fall through to the working directory
        }
        candidates.add(Path.of("").toAbsolutePath());
        for (Path c : candidates) {
            if (Files.isRegularFile(c.resolve(PEER_SCRIPT))) return c;
        }
        return null;
    }

    static PeerOutcome runPeer(Path dir, int batch, int seq, String dtype, int threads, BenchOptions o) {
        if (!dtype.equals("f32") && !dtype.equals("bf16")) return new PeerOutcome(null, "the peer runs f32 or bf16, not " + dtype);
        Path home = home();
        if (home == null) {
            return new PeerOutcome(null, PEER_SCRIPT + " not found (set -Dbraindrip.home or BRAINDRIP_HOME to the project root)");
        }
        if (!Files.isExecutable(Path.of(PYTHON))) return new PeerOutcome(null, PYTHON + " not found");
        List<String> cmd = List.of(PYTHON, home.resolve(PEER_SCRIPT).toString(), "--model", dir.toAbsolutePath().toString(), "--batch",
                Integer.toString(batch), "--seq", Integer.toString(seq), "--repeats", Integer.toString(o.repeats()), "--warmup",
                Integer.toString(o.warmup()), "--dtype", dtype, "--threads", Integer.toString(threads));
        Path err = null;
        try {
            err = Files.createTempFile("braindrip-peer-", ".err");
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            String last = null;
            for (String line : out.split("\n")) if (line.trim().startsWith("{")) last = line.trim();
            if (rc != 0 || last == null) {
                return new PeerOutcome(null, "peer exited " + rc + ": " + tail(Files.readString(err, StandardCharsets.UTF_8)));
            }
            return parsePeer(last);
        } catch (IOException e) {
            return new PeerOutcome(null, "peer could not run (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new PeerOutcome(null, "peer interrupted");
        } finally {
            if (err != null) {
                try {
                    Files.deleteIfExists(err);
                } catch (IOException ignored) {
                    // a temp file
                }
            }
        }
    }

    /** The peer script's one JSON line: its figures, or {"skipped": reason}. */
    static PeerOutcome parsePeer(String line) {
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(line);
        } catch (IOException e) {
            return new PeerOutcome(null, "peer printed no JSON (" + tail(line) + ")");
        }
        if (j.has("skipped")) return new PeerOutcome(null, j.get("skipped").asText());
        if (!j.has("median_ms")) return new PeerOutcome(null, "peer printed no median_ms (" + tail(line) + ")");
        return new PeerOutcome(new Peer(j.path("peer").asText("transformers"), j.path("device").asText(null), j.path("dtype").asText(null),
                j.get("median_ms").asDouble(), j.path("min_ms").asDouble(Double.NaN), j.path("repeats").asInt(0),
                j.path("tokens_per_s").asDouble(Double.NaN)), null);
    }

    private static String tail(String s) {
        String t = s.replace('\n', ' ').replace('\r', ' ').trim();
        return t.length() > 400 ? "..." + t.substring(t.length() - 400) : t;
    }
}
