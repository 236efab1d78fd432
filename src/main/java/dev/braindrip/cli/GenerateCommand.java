package dev.braindrip.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.JsonlBatch;
import dev.braindrip.generate.JsonlBatch.Line;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Session;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.Device;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * braindrip generate (CLI.md): batch generation over a JSONL file of prompts, in continuous
 * batches. The whole file is read and checked first; a line that cannot run gets an error line in
 * its place and the rest still runs (exit code 1).
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Batch generation: one JSON object per line with 'id' and one of 'prompt', 'tokens' or 'messages', plus optional "
                + "vLLM SamplingParams fields; one output line per input line, in input order.")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo'.")
    String model;

    @Option(names = "--prompts", required = true, paramLabel = "FILE.jsonl", description = "Prompts, one JSON object per line.")
    Path prompts;

    @Option(names = "--out", paramLabel = "FILE.jsonl", description = "Output file (default: stdout).")
    Path out;

    @Option(names = "--batch-size", defaultValue = "64", paramLabel = "N", description = "Sequences decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--streaming", paramLabel = "SINKS,WINDOW",
            description = "StreamingLLM: keep the first SINKS and the last WINDOW tokens of each sequence in its cache (any RoPE model).")
    String streaming;

    @Option(names = "--kv-budget", paramLabel = "BYTES", description = "KV-cache memory for all sequences, e.g. 2G or 512M (default: 4G).")
    String kvBudget;

    @Override
    public Integer call() throws Exception {
        Session.Streaming stream = OptionParsers.streaming("--streaming", streaming);
        long budget = kvBudget == null ? GeneratorOptions.DEFAULT_KV_BUDGET : OptionParsers.bytes("--kv-budget", kvBudget);
        if (batchSize < 1) throw new IllegalArgumentException("usage: --batch-size must be >= 1, got " + batchSize);
        SamplingParams defaults = sampling.params();
        List<Line> lines = read(prompts, defaults, common.seed);
        long t0 = System.nanoTime();
        Device device = common.device();
        int failed = 0;
        try (Transformer m = ModelArg.load(model, device, common.dtype(device))) {
            // encode every line first: a line that cannot run becomes an error line, the rest size the cache
            List<int[]> ids = new ArrayList<>();
            List<String> errors = new ArrayList<>();
            int longest = 1;
            GeneratorOptions base = GeneratorOptions.defaults().maxBatch(batchSize).kvBudgetBytes(budget).streaming(stream).seed(common.seed);
            try (dev.braindrip.io.tokenizer.Tokenizer tok = Generator.tokenizerOf(m)) {
                for (Line l : lines) {
                    if (l.error() != null) {
                        ids.add(null);
                        errors.add(l.error());
                        continue;
                    }
                    try {
                        int[] p = JsonlBatch.encode(m, tok, l.prompt());
                        ids.add(p);
                        errors.add(null);
                        longest = (int) Math.min(Integer.MAX_VALUE, Math.max(longest, (long) p.length + l.params().maxTokens()));
                    } catch (RuntimeException e) {
                        ids.add(null);
                        errors.add(Main.oneLine(e));
                    }
                }
                GeneratorOptions opts = base.maxSequenceLength(Math.min(longest, m.config().maxPositions()));
                try (Generator g = new Generator(m, tok, opts); Writer w = output()) {
                    List<Prompt> ps = new ArrayList<>();
                    List<SamplingParams> pp = new ArrayList<>();
                    for (int i = 0; i < lines.size(); i++) {
                        if (errors.get(i) != null) continue;
                        ps.add(Prompt.tokens(ids.get(i)));
                        pp.add(lines.get(i).params());
                    }
                    Iterator<CompletableFuture<Completion>> submitted = g.submitAll(ps, pp, null).iterator(); // one batch: admitted together
                    List<CompletableFuture<Completion>> fs = new ArrayList<>();
                    for (int i = 0; i < lines.size(); i++) fs.add(errors.get(i) != null ? null : submitted.next());
                    boolean text = g.tokenizer() != null;
                    try (ProgressBar bar = progress(lines.size())) {
                        for (int i = 0; i < lines.size(); i++) {
                            Line l = lines.get(i);
                            ObjectNode o;
                            String err = errors.get(i);
                            Completion c = null;
                            if (err == null) {
                                try {
                                    c = Generator.await(fs.get(i));
                                } catch (RuntimeException e) {
                                    err = Main.oneLine(e);
                                }
                            }
                            if (c == null) {
                                o = JsonlBatch.errorRow(l.id(), l.number(), err);
                                failed++;
                            } else {
                                o = JsonlBatch.row(l.id(), c, text);
                            }
                            w.write(JsonlBatch.toJson(o));
                            w.write('\n');
                            w.flush();
                            if (bar != null) bar.step();
                        }
                    }
                    Generator.Stats s = g.stats();
                    double wall = (System.nanoTime() - t0) / 1e9;
                    System.err.printf(Locale.ROOT, "braindrip: %d sequences, %d prompt tokens (%.1f tok/s), %d generated tokens (%.1f tok/s), %.2f s%n",
                            lines.size() - failed, s.promptTokens(), rate(s.promptTokens(), s.prefillSeconds()), s.generatedTokens(),
                            rate(s.generatedTokens(), s.decodeSeconds() + s.prefillSeconds()), wall);
                }
            }
        }
        return failed > 0 ? 1 : 0;
    }

    private static double rate(long n, double seconds) {
        return seconds > 0 ? n / seconds : 0;
    }

    private Writer output() throws IOException {
        if (out == null) return new BufferedWriter(new OutputStreamWriter(new java.io.FilterOutputStream(System.out) {
            @Override
            public void close() throws IOException {
                flush(); // stdout stays open
            }
        }, StandardCharsets.UTF_8));
        return Files.newBufferedWriter(out, StandardCharsets.UTF_8);
    }

    private static ProgressBar progress(int n) {
        if (System.console() == null) return null;
        return new ProgressBarBuilder().setTaskName("generate").setInitialMax(n).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).setUnit(" seq", 1).build();
    }

    // ---------------------------------------------------------------- the input file

    /** Reads and checks the whole file: bad JSON or a line with no prompt stops the run (naming the line); field errors become error lines. */
    static List<Line> read(Path file, SamplingParams defaults, long seed) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "prompts file not found");
        List<Line> out = new ArrayList<>();
        int number = 0;
        for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            number++;
            if (JsonlBatch.isBlank(raw)) continue;
            try {
                out.add(JsonlBatch.parse(raw, number, out.size(), defaults, seed));
            } catch (JsonlBatch.MalformedLineException e) {
                throw new IllegalArgumentException(file + ": line " + number + " " + e.getMessage());
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no prompts (the file has no JSON lines)");
        return out;
    }
}
