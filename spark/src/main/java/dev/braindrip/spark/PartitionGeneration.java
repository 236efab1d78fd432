package dev.braindrip.spark;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.JsonlBatch;
import dev.braindrip.generate.JsonlBatch.Line;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.TaskCompletionListener;

/**
 * One partition of requests ({@code index, line, request}: the request as a JSON line) to output
 * rows, in the partition's order, through the executor's shared engine: requests go to the
 * generator ahead of the rows being read back (a window of twice its slots), so the continuous
 * batch stays full across rows and across the tasks running in this JVM. When the task ends early
 * (failed, killed) its requests still in flight are cancelled and free their slots.
 */
final class PartitionGeneration implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final GenerateSpec spec;
    private final LongAccumulator rows, errors; // null: not counted

    PartitionGeneration(GenerateSpec spec, LongAccumulator rows, LongAccumulator errors) {
        this.spec = spec;
        this.rows = rows;
        this.errors = errors;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> requests) {
        if (!requests.hasNext()) return java.util.Collections.emptyIterator(); // no engine for an empty partition
        TaskContext task = TaskContext.get();
        String[] gpus = null;
        if (task != null) {
            Map<String, ResourceInformation> r = task.resourcesJMap();
            if (r.containsKey("gpu")) gpus = r.get("gpu").addresses();
        }
        ExecutorEngines.Engine engine = ExecutorEngines.get(spec, spec.device(gpus));
        Rows out = new Rows(requests, engine, spec, task, rows, errors);
        if (task != null) {
            task.addTaskCompletionListener(new TaskCompletionListener() {
                @Override
                public void onTaskCompletion(TaskContext context) {
                    out.cancel();
                    ExecutorEngines.release(engine);
                }
            });
        }
        return out;
    }

    /** A request read from the partition: its parsed line and, when it runs, its completion to come. */
    private record Pending(Line line, CompletableFuture<Completion> completion) {}

    private static final class Rows implements Iterator<Row> {
        private final Iterator<Row> in;
        private final ExecutorEngines.Engine engine;
        private final GenerateSpec spec;
        private final SamplingParams defaults;
        private final TaskContext task;
        private final LongAccumulator rows, errors;
        private final int window;
        private final ArrayDeque<Pending> pending = new ArrayDeque<>();
        private long emitted;

        Rows(Iterator<Row> in, ExecutorEngines.Engine engine, GenerateSpec spec, TaskContext task, LongAccumulator rows, LongAccumulator errors) {
            this.in = in;
            this.rows = rows;
            this.errors = errors;
            this.engine = engine;
            this.spec = spec;
            this.defaults = spec.samplingDefaults();
            this.task = task;
            this.window = Math.max(16, 2 * engine.generator().slots());
        }

        @Override
        public boolean hasNext() {
            return !pending.isEmpty() || in.hasNext();
        }

        @Override
        public Row next() {
            if (pending.size() <= window / 2) submitMore();
            Pending p = pending.poll();
            if (p == null) throw new NoSuchElementException();
            injectedFailure();
            emitted++;
            Line l = p.line();
            String error = l.error();
            Row row = null;
            if (error == null) {
                try {
                    row = OutputRows.of(l.index(), l.id(), Generator.await(p.completion()), engine.text());
                } catch (RuntimeException e) {
                    error = JsonlBatch.oneLine(e);
                }
            }
            if (rows != null) rows.add(1);
            if (error == null) return row;
            if (errors != null) errors.add(1);
            return OutputRows.error(l.index(), l.id(), l.number(), error);
        }

        /** Reads requests up to the window and submits those that can run, together (admitted as one batch). */
        private void submitMore() {
            List<Line> lines = new ArrayList<>();
            List<Prompt> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            while (pending.size() + lines.size() < window && in.hasNext()) {
                Row r = in.next();
                Line l = JsonlBatch.parseLenient(r.getString(2), r.getLong(1), r.getLong(0), defaults, spec.seed());
                if (l.ok()) {
                    try {
                        prompts.add(Prompt.tokens(JsonlBatch.encode(engine.model(), engine.tokenizer(), l.prompt())));
                        params.add(l.params());
                    } catch (RuntimeException e) {
                        l = JsonlBatch.failed(l, JsonlBatch.oneLine(e));
                    }
                }
                lines.add(l);
            }
            Iterator<CompletableFuture<Completion>> fs = prompts.isEmpty() ? null : engine.generator().submitAll(prompts, params, null).iterator();
            for (Line l : lines) pending.add(new Pending(l, l.ok() ? fs.next() : null));
        }

        /** Testing retries: the first attempt of the chosen partition dies here, part-way through its rows. */
        private void injectedFailure() {
            if (task == null || spec.failPartition() < 0) return;
            if (task.partitionId() == spec.failPartition() && task.attemptNumber() == 0 && emitted == spec.failAfterRows()) {
                throw new IllegalStateException("injected failure: partition " + task.partitionId() + ", attempt 0, after " + emitted + " rows");
            }
        }

        void cancel() {
            for (Pending p : pending) {
                if (p.completion() != null) p.completion().cancel(true);
            }
            pending.clear();
        }
    }
}
