package dev.braindrip.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The peer of {@code bench generate}: Hugging Face transformers' {@code generate} on the same
 * checkpoint through {@code scripts/hf_generate_peer.py}, run once with /usr/bin/python3 for all
 * the tests (the same shapes, dtype, thread count, warm-up and repeats; eager attention). A peer
 * that cannot run gives its reason, for every test or for one, and the bench carries on.
 */
public final class GeneratePeer {
    /** The peer script, relative to the project root. */
    public static final String SCRIPT = "scripts/hf_generate_peer.py";

    private GeneratePeer() {}

    /** The peer's figures for one test, as its script printed them (milliseconds are medians unless named min). */
    public record Figures(String name, String device, String dtype, String attention, int repeats, double prefillMs, double prefillMinMs,
                         double decodeMs, double decodeMinMs, double totalMs, double totalMinMs, double prefillTokS, double decodeTokS) {
        /** The median of what {@code timed} names. */
        public double medianMs(GenerateBench.Timed timed) {
            return switch (timed) {
                case PREFILL -> prefillMs;
                case DECODE -> decodeMs;
                case TOTAL -> totalMs;
            };
        }

        public double minMs(GenerateBench.Timed timed) {
            return switch (timed) {
                case PREFILL -> prefillMinMs;
                case DECODE -> decodeMinMs;
                case TOTAL -> totalMinMs;
            };
        }
    }

    /** Per test id: the peer's figures, or why there are none ({@code all}: the reason for every test). */
    public record Outcome(Map<String, Figures> figures, Map<String, String> skippedById, String all) {
        public Figures peer(GenerateBench.Shape s) {
            return figures.get(s.id());
        }

        public String skipped(GenerateBench.Shape s) {
            if (figures.containsKey(s.id())) return null;
            if (all != null) return all;
            return skippedById.getOrDefault(s.id(), "the peer printed no line for " + s.id());
        }

        static Outcome none(String why) {
            return new Outcome(Map.of(), Map.of(), why);
        }
    }

    static Outcome run(Path dir, List<GenerateBench.Shape> shapes, String dtype, int threads, BenchOptions o) {
        if (shapes.isEmpty()) return Outcome.none("no test to run");
        if (!dtype.equals("f32") && !dtype.equals("bf16")) return Outcome.none("the peer runs f32 or bf16, not " + dtype);
        Path home = ForwardBench.home();
        if (home == null || !Files.isRegularFile(home.resolve(SCRIPT))) {
            return Outcome.none(SCRIPT + " not found (set -Dbraindrip.home or BRAINDRIP_HOME to the project root)");
        }
        if (!Files.isExecutable(Path.of(ForwardBench.PYTHON))) return Outcome.none(ForwardBench.PYTHON + " not found");
        List<String> cmd = new ArrayList<>(List.of(ForwardBench.PYTHON, home.resolve(SCRIPT).toString(), "--model", dir.toAbsolutePath().toString(),
                "--repeats", Integer.toString(o.repeats()), "--warmup", Integer.toString(o.warmup()), "--dtype", dtype, "--threads",
                Integer.toString(threads)));
        for (GenerateBench.Shape s : shapes) {
            cmd.add("--shape");
            cmd.add(s.id() + ":" + s.batch() + ":" + s.promptTokens() + ":" + s.genTokens());
        }
        return exec(cmd);
    }

    private static Outcome exec(List<String> cmd) {
        Path err = null;
        try {
            err = Files.createTempFile("braindrip-peer-", ".err");
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            List<String> lines = new ArrayList<>();
            for (String line : out.split("\n")) if (line.trim().startsWith("{")) lines.add(line.trim());
            if (rc != 0 || lines.isEmpty()) return Outcome.none("peer exited " + rc + ": " + tail(Files.readString(err, StandardCharsets.UTF_8)));
            return parse(lines);
        } catch (IOException e) {
            return Outcome.none("peer could not run (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Outcome.none("peer interrupted");
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

    /** The script's JSON lines: one per test ({"test", figures} or {"test", "skipped"}), or a single {"skipped"} for all. */
    static Outcome parse(List<String> lines) {
        Map<String, Figures> figures = new HashMap<>();
        Map<String, String> skipped = new HashMap<>();
        ObjectMapper mapper = new ObjectMapper();
        for (String line : lines) {
            JsonNode j;
            try {
                j = mapper.readTree(line);
            } catch (IOException e) {
                return Outcome.none("peer printed no JSON (" + tail(line) + ")");
            }
            if (!j.has("test")) return Outcome.none(j.path("skipped").asText("peer printed a line without a test (" + tail(line) + ")"));
            String id = j.get("test").asText();
            if (j.has("skipped")) skipped.put(id, j.get("skipped").asText());
            else if (!j.has("total_ms")) skipped.put(id, "peer printed no total_ms (" + tail(line) + ")");
            else figures.put(id, figures(j));
        }
        return new Outcome(figures, skipped, null);
    }

    private static Figures figures(JsonNode j) {
        return new Figures(j.path("peer").asText("transformers"), j.path("device").asText(null), j.path("dtype").asText(null),
                j.path("attn").asText(null), j.path("repeats").asInt(0), num(j, "prefill_ms"), num(j, "prefill_min_ms"), num(j, "decode_ms"),
                num(j, "decode_min_ms"), num(j, "total_ms"), num(j, "total_min_ms"), num(j, "prefill_tok_s"), num(j, "decode_tok_s"));
    }

    private static double num(JsonNode j, String field) {
        JsonNode v = j.get(field);
        return v == null || !v.isNumber() ? Double.NaN : v.asDouble();
    }

    static String tail(String s) {
        String t = s.replace('\n', ' ').replace('\r', ' ').trim();
        return t.length() > 400 ? "..." + t.substring(t.length() - 400) : t;
    }
}
