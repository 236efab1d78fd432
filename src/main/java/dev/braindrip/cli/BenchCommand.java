package dev.braindrip.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.bench.BenchOptions;
import dev.braindrip.bench.BenchResult;
import dev.braindrip.bench.Ceilings;
import dev.braindrip.bench.ForwardBench;
import dev.braindrip.bench.GenerateBench;
import dev.braindrip.bench.GenerateResult;
import dev.braindrip.bench.OpBench;
import dev.braindrip.model.DemoModel;
import dev.braindrip.tensor.CudaRuntime;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * `braindrip bench OP [shape options] [--peer] [--json FILE]` (CLI.md): times a kernel after
 * warm-up, median of repeats, and prints one table with the machine's measured ceilings.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time a kernel family at the standard shapes (or the given one) and print TFLOP/s, GB/s and %% of the measured ceilings.",
        subcommands = {BenchCommand.Forward.class, BenchCommand.Generate.class, BenchSoakCommand.class})
public final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "OP", description = "forward or generate (a whole model: bench forward --help, bench generate --help), or gemm, rmsnorm, layernorm, softmax, activation, glu, rope, attention, sparse-attention, diff-attention, moe or overhead (one call on a tiny tensor, in us, and its parts); several joined by commas; 'all' for every one.")
    String op;

    @Mixin
    CommonOptions common;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--m") Integer m;
    @Option(names = "--n") Integer n;
    @Option(names = "--k") Integer k;
    @Option(names = "--rows") Integer rows;
    @Option(names = "--cols") Integer cols;
    @Option(names = "--seq") Integer seq;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--head-dim") Integer headDim;
    @Option(names = "--tokens") Integer tokens;
    @Option(names = "--hidden") Integer hidden;
    @Option(names = "--ffn") Integer ffn;
    @Option(names = "--experts") Integer experts;
    @Option(names = "--top-k") Integer topK;
    @Option(names = "--routing", paramLabel = "softmax_topk|topk_softmax|sigmoid_grouped|top1_capacity") String routing;
    @Option(names = "--batch") Integer batch;
    @Option(names = "--seq-q") Integer seqQ;
    @Option(names = "--seq-kv") Integer seqKv;
    @Option(names = "--kv-heads") Integer kvHeads;
    @Option(names = "--causal", description = "attention: causal mask.") Boolean causal;
    @Option(names = "--window-left", description = "attention: keys visible before the diagonal (-1 unbounded).") Integer windowLeft;
    @Option(names = "--t5-bias", description = "attention: add T5's relative position bias in the kernel (32 buckets, max distance 128; "
            + "bidirectional unless --causal), timed against the same call without it and, with --peer, the naive version that "
            + "materializes the (heads, Sq, Skv) bias.") boolean t5Bias;
    @Option(names = "--block", description = "sparse-attention: tokens per block (a multiple of 64).") Integer block;
    @Option(names = "--pattern", description = "sparse-attention: layout terms local:W, stride:S, vstride:S, sink:N joined by commas.") String pattern;

    @Option(names = "--repeats", defaultValue = "20", description = "Timed repeats (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed warm-up runs (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--peer", description = "Also time the naive unfused peer on the same shapes.")
    boolean peer;

    @Option(names = "--no-ceilings", description = "Skip measuring copy bandwidth and the vendor GEMM rate.")
    boolean noCeilings;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as a JSON array.")
    Path json;

    @Override
    public Integer call() throws Exception {
        if (op == null) { // optional only so that the forward subcommand parses without it
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing required parameter: 'OP'");
        }
        Device device = common.device();
        DType dtype = common.dtype(device);
        BenchOptions options = new BenchOptions(warmup, repeats, peer);
        List<String> ops = op.equals("all") ? OpBench.OPS : List.of(op.split(","));
        for (String o : ops) {
            if (!OpBench.OPS.contains(o)) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                        "unknown op '" + o + "' (expected one of " + OpBench.OPS + " or all)");
            }
        }
        String where = device.isCuda() ? CudaRuntime.describe(device.index()) : "cpu (" + Runtime.getRuntime().availableProcessors() + " threads)";
        System.out.println("braindrip bench on " + where + ", " + dtype.name().toLowerCase(Locale.ROOT) + ", median of " + repeats
                + " after " + warmup + " warm-up");
        Ceilings ceil = noCeilings ? null : Ceilings.measure(device);
        if (ceil != null) {
            System.out.printf(Locale.ROOT, "ceilings: copy %.1f GB/s (read+write), gemm %.1f TFLOP/s (%s)%n", ceil.copyGBps(), ceil.gemmTflops(),
                    ceil.gemmShape());
        }
        List<BenchResult> results = new ArrayList<>();
        printHeader();
        for (String o : ops) {
            List<Map<String, Object>> shapes = explicitShape(o);
            for (Map<String, Object> s : shapes.isEmpty() ? OpBench.standardShapes(o, device) : shapes) {
                if (t5Bias) {
                    if (!o.equals("attention")) {
                        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--t5-bias applies to attention only, not " + o);
                    }
                    s = new LinkedHashMap<>(s);
                    s.put("t5_bias", true);
                }
                BenchResult r = OpBench.run(o, s, device, dtype, options);
                results.add(r);
                printRow(r, ceil);
            }
        }
        if (json != null) writeJson(results, ceil);
        return 0;
    }

    private List<Map<String, Object>> explicitShape(String o) {
        Map<String, Object> s = new LinkedHashMap<>();
        switch (o) {
            case "gemm" -> { put(s, "m", m); put(s, "n", n); put(s, "k", k); }
            case "rope" -> { put(s, "seq", seq); put(s, "heads", heads); put(s, "head_dim", headDim); }
            case "moe" -> { put(s, "tokens", tokens); put(s, "hidden", hidden); put(s, "ffn", ffn); put(s, "experts", experts); put(s, "top_k", topK);
                if (routing != null) s.put("routing", routing);
                if (!s.isEmpty()) s.put("model", "custom"); }
            case "diff-attention" -> { // heads = H output heads (q and k have 2H and 2Hkv heads of D, v Hkv of 2D)
                put(s, "batch", batch);
                put(s, "seq_q", seqQ != null ? seqQ : seq);
                put(s, "seq_kv", seqKv != null ? seqKv : seq);
                put(s, "heads", heads);
                put(s, "kv_heads", kvHeads != null ? kvHeads : heads);
                put(s, "head_dim", headDim);
                if (causal != null || !s.isEmpty()) s.put("causal", causal != null && causal);
            }
            case "attention" -> {
                put(s, "batch", batch);
                put(s, "seq_q", seqQ != null ? seqQ : seq);
                put(s, "seq_kv", seqKv != null ? seqKv : seq);
                put(s, "heads", heads);
                put(s, "kv_heads", kvHeads != null ? kvHeads : heads);
                put(s, "head_dim", headDim);
                put(s, "window_left", windowLeft);
                if (causal != null || !s.isEmpty()) s.put("causal", causal != null && causal); // explicit shape: causal only with --causal
            }
            case "sparse-attention" -> {
                put(s, "batch", batch);
                put(s, "seq_q", seqQ != null ? seqQ : seq);
                put(s, "seq_kv", seqKv != null ? seqKv : seq);
                put(s, "heads", heads);
                put(s, "kv_heads", kvHeads != null ? kvHeads : heads);
                put(s, "head_dim", headDim);
                put(s, "block", block);
                if (pattern != null) s.put("pattern", pattern);
                if (causal != null || !s.isEmpty()) s.put("causal", causal != null && causal); // explicit shape: causal only with --causal
            }
            default -> { put(s, "rows", rows); put(s, "cols", cols); }
        }
        if (s.isEmpty()) return List.of();
        Map<String, Object> std = OpBench.standardShapes(o, Device.cpu()).get(0);
        for (Map.Entry<String, Object> e : std.entrySet()) s.putIfAbsent(e.getKey(), e.getValue());
        Map<String, Object> ordered = new LinkedHashMap<>(); // the standard shape's key order
        for (String key : std.keySet()) ordered.put(key, s.get(key));
        return List.of(ordered);
    }

    private static void put(Map<String, Object> s, String key, Integer v) {
        if (v != null) s.put(key, v);
    }

    private static void printHeader() {
        System.out.printf(Locale.ROOT, "%-10s %-34s %-6s %-7s %10s %10s %9s %9s %7s %14s %8s%n", "op", "shape", "dtype", "device", "median_ms",
                "min_ms", "TFLOP/s", "GB/s", "%ceil", "peer_ms", "speedup");
    }

    private static void printRow(BenchResult r, Ceilings c) {
        String pct = "-";
        if (c != null) {
            boolean memoryBound = r.flops() <= 0 || Integer.valueOf(1).equals(r.shape().get("seq_q")); // decode attention reads K/V
            double p = memoryBound ? 100 * r.gbps() / c.copyGBps() : 100 * r.tflops() / c.gemmTflops();
            pct = String.format(Locale.ROOT, "%.0f%%", p);
        }
        String peerMs = r.peer() == null ? "-" : String.format(Locale.ROOT, "%.3f", r.peer().medianMs());
        String speedup = r.peer() == null ? "-" : String.format(Locale.ROOT, "%.1fx", r.peer().medianMs() / r.medianMs());
        System.out.printf(Locale.ROOT, "%-10s %-34s %-6s %-7s %10.4f %10.4f %9s %9.1f %7s %14s %8s%n", r.op(), r.shape().toString(), r.dtype(),
                r.device(), r.medianMs(), r.minMs(), r.flops() > 0 ? String.format(Locale.ROOT, "%.3g", r.tflops()) : "-", r.gbps(), pct,
                peerMs, speedup);
        if (r.note() != null) System.out.println("  note: " + r.note());
    }

    private void writeJson(List<BenchResult> results, Ceilings ceil) throws java.io.IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ArrayNode arr = mapper.createArrayNode();
        for (BenchResult r : results) {
            ObjectNode o = arr.addObject();
            o.put("op", r.op());
            o.put("device", r.device());
            o.put("dtype", r.dtype());
            o.set("shape", mapper.valueToTree(r.shape()));
            o.put("median_ms", r.medianMs());
            o.put("min_ms", r.minMs());
            o.put("repeats", r.repeats());
            o.put("tflops", r.tflops());
            o.put("gbps", r.gbps());
            if (r.peer() == null) o.putNull("peer");
            else o.putObject("peer").put("name", r.peer().name()).put("median_ms", r.peer().medianMs());
            if (ceil != null) {
                o.put("copy_gbps_ceiling", ceil.copyGBps());
                o.put("gemm_tflops_ceiling", ceil.gemmTflops());
            }
            if (r.note() != null) o.put("note", r.note());
            for (Map.Entry<String, Object> e : r.extras().entrySet()) {
                if (e.getValue() == null) o.putNull(e.getKey());
                else o.set(e.getKey(), mapper.valueToTree(e.getValue()));
            }
        }
        java.nio.file.Path parent = json.toAbsolutePath().getParent();
        if (parent != null) java.nio.file.Files.createDirectories(parent);
        mapper.writeValue(json.toFile(), arr);
    }

    /**
     * `braindrip bench forward (--model DIR | --arch NAME [--preset P]) [--batch 1] [--seq 512] [--peer] [--json FILE]`:
     * prefill throughput of a whole model (ForwardBench), with Hugging Face transformers on the same checkpoint as the peer.
     */
    @Command(name = "forward", mixinStandardHelpOptions = true,
            description = "Prefill throughput of a model: forward on a batch x seq batch of random ids (median of repeats after warm-up), "
                    + "tokens/s and TFLOP/s; --peer times Hugging Face transformers on the same checkpoint.")
    public static final class Forward implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--model", paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo'.")
        String model;

        @Option(names = "--arch", paramLabel = "NAME", description = "Write a random model of this architecture into a temporary directory first.")
        String arch;

        @Option(names = "--preset", defaultValue = "tiny", paramLabel = "tiny|small|NAME", description = "With --arch: its shape (default: ${DEFAULT-VALUE}).")
        String preset;

        @Option(names = "--batch", defaultValue = "1", description = "Sequences per forward (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--seq", defaultValue = "512", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
        int seq;

        @Option(names = "--repeats", defaultValue = "10", description = "Timed repeats (default ${DEFAULT-VALUE}).")
        int repeats;

        @Option(names = "--warmup", defaultValue = "2", description = "Untimed warm-up forwards (default ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--peer", description = "Also time Hugging Face transformers on the same checkpoint (scripts/hf_forward_peer.py).")
        boolean peer;

        @Option(names = "--json", paramLabel = "FILE", description = "Write the result as a JSON array of one row.")
        Path json;

        @Override
        public Integer call() throws Exception {
            if ((model == null) == (arch == null)) throw new IllegalArgumentException("usage: give --model DIR or --arch NAME (not both)");
            Device device = common.device();
            BenchOptions options = new BenchOptions(warmup, repeats, peer);
            Path dir = model == null ? null : ModelArg.dir(model);
            String name = model == null ? null : DemoModel.isName(model) ? model : String.valueOf(dir.toAbsolutePath().normalize().getFileName());
            DType load = common.dtype == null ? null : common.dtype(device); // --model: the checkpoint's dtype unless --dtype
            if (arch != null) {
                DType dt = common.dtype(device);
                try {
                    dir = ForwardBench.writeRandom(arch, preset, dt, common.seed);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("usage: " + e.getMessage());
                }
                name = arch + "/" + preset;
                load = null;
                System.err.println("braindrip: wrote a random " + name + " (" + dt.name().toLowerCase(Locale.ROOT) + ") to " + dir);
            }
            try {
                String where = device.isCuda() ? CudaRuntime.describe(device.index()) : "cpu (" + Runtime.getRuntime().availableProcessors() + " threads)";
                System.out.println("braindrip bench forward on " + where + ", median of " + repeats + " after " + warmup + " warm-up");
                ForwardBench.Result r = ForwardBench.run(new ForwardBench.Spec(dir, name, device, load, batch, seq, common.seed), options);
                print(r);
                if (json != null) {
                    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                    ArrayNode arr = mapper.createArrayNode();
                    arr.add(mapper.valueToTree(r.row()));
                    Path parent = json.toAbsolutePath().getParent();
                    if (parent != null) java.nio.file.Files.createDirectories(parent);
                    mapper.writeValue(json.toFile(), arr);
                }
            } finally {
                if (arch != null) ForwardBench.deleteTree(dir);
            }
            return 0;
        }

        private static void print(ForwardBench.Result r) {
            System.out.printf(Locale.ROOT, "%-10s %-40s %-6s %-7s %10s %10s %10s %9s %12s %12s %8s%n", "op", "shape", "dtype", "device", "median_ms",
                    "min_ms", "tok/s", "TFLOP/s", "peer_ms", "peer_tok/s", "speedup");
            String shape = "{model=" + r.model() + ", batch=" + r.batch() + ", seq=" + r.seq() + "}";
            ForwardBench.Peer p = r.peer();
            System.out.printf(Locale.ROOT, "%-10s %-40s %-6s %-7s %10.2f %10.2f %10.1f %9.3g %12s %12s %8s%n", "forward", shape, r.dtype(), r.device(),
                    r.medianMs(), r.minMs(), r.tokensPerS(), r.tflops(), p == null ? "-" : String.format(Locale.ROOT, "%.2f", p.medianMs()),
                    p == null ? "-" : String.format(Locale.ROOT, "%.1f", p.tokensPerS()),
                    p == null ? "-" : String.format(Locale.ROOT, "%.2fx", p.medianMs() / r.medianMs()));
            if (p != null) System.out.println("  peer: " + p.name() + " on " + p.device() + ", " + p.dtype());
            if (r.peerSkipped() != null) System.out.println("  peer skipped: " + r.peerSkipped());
            System.out.printf(Locale.ROOT, "  activation_peak_bytes: %d after 1 forward, %d after %d; weights %d bytes; rss %d bytes (peak %d)%n",
                    r.activationPeakAfter1(), r.activationPeak(), r.forwards(), r.weightBytes(), r.rssBytes(), r.rssPeakBytes());
            System.out.printf(Locale.ROOT, "  flops: %.4g per forward (2 x %d weights x %d tokens + causal attention)%n", r.flops(), r.flopParameters(),
                    r.tokens());
        }
    }

    /**
     * `braindrip bench generate (--model DIR | --arch NAME [--preset P]) [--prompt-tokens 512] [--gen-tokens 128] [--batch 1,8,64]
     * [--peer] [--json FILE]`: end-to-end generation throughput (GenerateBench), llama-bench's pp and tg and llama-batched-bench's
     * batches, with Hugging Face transformers' generate on the same checkpoint as the peer.
     */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "End-to-end generation throughput, greedy with EOS ignored: pp (prefill tokens/s of one prompt), tg (decode tokens/s "
                    + "at batch 1) and, per --batch, prefill and decode tokens/s of B prompts generating together; --peer runs Hugging Face "
                    + "transformers' generate on the same checkpoint.")
    public static final class Generate implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--model", paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo'.")
        String model;

        @Option(names = "--arch", paramLabel = "NAME", description = "Write a random model of this architecture into a temporary directory first.")
        String arch;

        @Option(names = "--preset", defaultValue = "tiny", paramLabel = "tiny|small|NAME", description = "With --arch: its shape (default: ${DEFAULT-VALUE}).")
        String preset;

        @Option(names = "--prompt-tokens", defaultValue = "512", paramLabel = "P", description = "Prompt ids per sequence for pp and the batch tests (default: ${DEFAULT-VALUE}).")
        int promptTokens;

        @Option(names = "--gen-tokens", defaultValue = "128", paramLabel = "G", description = "Tokens generated per sequence for tg and the batch tests (default: ${DEFAULT-VALUE}).")
        int genTokens;

        @Option(names = "--batch", split = ",", defaultValue = "1,8,64", paramLabel = "B", description = "Batch sizes of the batch tests (default: ${DEFAULT-VALUE}).")
        List<Integer> batches;

        @Option(names = "--tests", split = ",", defaultValue = "pp,tg,batch", paramLabel = "pp|tg|batch",
                description = "Which tests to run: pp, tg and the batch tests (default: ${DEFAULT-VALUE}).")
        List<String> tests;

        @Option(names = "--repeats", defaultValue = "5", description = "Timed runs per test (default ${DEFAULT-VALUE}).")
        int repeats;

        @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs per test first (default ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--peer", description = "Also time Hugging Face transformers' generate on the same checkpoint (scripts/hf_generate_peer.py).")
        boolean peer;

        @Option(names = "--split", description = "Also time the model's decode steps alone (no sampling, no scheduling) at each decode test.")
        boolean split;

        @Option(names = "--recompute", description = "Also time greedy decoding by full recomputation (a forward over the whole sequence per "
                + "token, no cache) at batch 1, at the same context.")
        boolean recompute;

        @Option(names = "--json", paramLabel = "FILE", description = "Write the measured tests as a JSON array, one object per test.")
        Path json;

        @Override
        public Integer call() throws Exception {
            if ((model == null) == (arch == null)) throw new IllegalArgumentException("usage: give --model DIR or --arch NAME (not both)");
            Device device = common.device();
            BenchOptions options;
            GenerateBench.Spec spec;
            try {
                options = new BenchOptions(warmup, repeats, peer);
                spec = new GenerateBench.Spec(null, null, device, null, promptTokens, genTokens, batches, tests, split, common.seed);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("usage: " + e.getMessage());
            }
            Path dir = model == null ? null : ModelArg.dir(model);
            String name = model == null ? null : DemoModel.isName(model) ? model : String.valueOf(dir.toAbsolutePath().normalize().getFileName());
            DType load = common.dtype == null ? null : common.dtype(device); // --model: the checkpoint's dtype unless --dtype
            if (arch != null) {
                DType dt = common.dtype(device);
                try {
                    dir = ForwardBench.writeRandom(arch, preset, dt, common.seed);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("usage: " + e.getMessage());
                }
                name = arch + "/" + preset;
                load = null;
                System.err.println("braindrip: wrote a random " + name + " (" + dt.name().toLowerCase(Locale.ROOT) + ") to " + dir);
            }
            try {
                String where = device.isCuda() ? CudaRuntime.describe(device.index()) : "cpu (" + Runtime.getRuntime().availableProcessors() + " threads)";
                System.out.println("braindrip bench generate on " + where + ", " + name + ", greedy, median of " + repeats + " after " + warmup
                        + " warm-up");
                spec = new GenerateBench.Spec(dir, name, device, load, promptTokens, genTokens, batches, tests, split, common.seed, recompute);
                List<GenerateResult> rs = GenerateBench.run(spec, options);
                GenerateTable.print(rs);
                if (json != null) writeJson(rs);
            } finally {
                if (arch != null) ForwardBench.deleteTree(dir);
            }
            return 0;
        }

        private void writeJson(List<GenerateResult> rs) throws java.io.IOException {
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ArrayNode arr = mapper.createArrayNode();
            for (GenerateResult r : rs) if (r.skipped() == null) arr.add(mapper.valueToTree(r.row()));
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) java.nio.file.Files.createDirectories(parent);
            mapper.writeValue(json.toFile(), arr);
        }
    }
}
