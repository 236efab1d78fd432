package dev.braindrip.spark;

import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Session;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * What a batch-generation job runs, as it travels to the executors: the model, where it runs, the
 * generator's shape and the sampling defaults of lines that omit a field (the options of
 * {@code braindrip generate}, with its defaults). Immutable; {@link #builder()} validates at
 * {@link Builder#build()}.
 *
 * <p>The model is "demo", a directory every executor can read (a shared path), or the name of a
 * file or directory shipped to the executors ({@code --files}, {@code --archives},
 * {@code SparkContext.addFile(dir, true)}) when {@link #shippedModel()} is set: then each executor
 * reads {@code SparkFiles.get(model)}.
 */
public final class GenerateSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String model;
    private final boolean shippedModel;
    private final String device; // null: the task's GPU when Spark assigned one, else cpu
    private final String dtype; // null: f32 on cpu, bf16 on cuda
    private final int batchSize;
    private final long kvBudgetBytes;
    private final int maxSequenceLength;
    private final int streamingSinks, streamingWindow; // window 0: off
    private final long seed;
    private final int partitions; // 0: the session's default parallelism
    private final SamplingParams sampling; // the defaults of lines that omit a field
    private final int failPartition, failAfterRows; // testing: fail attempt 0 of this partition after this many rows (-1: never)

    private GenerateSpec(Builder b) {
        model = b.model;
        shippedModel = b.shippedModel;
        device = b.device;
        dtype = b.dtype;
        batchSize = b.batchSize;
        kvBudgetBytes = b.kvBudgetBytes;
        maxSequenceLength = b.maxSequenceLength;
        streamingSinks = b.streamingSinks;
        streamingWindow = b.streamingWindow;
        seed = b.seed;
        partitions = b.partitions;
        sampling = b.sampling.build();
        failPartition = b.failPartition;
        failAfterRows = b.failAfterRows;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.model = model;
        b.shippedModel = shippedModel;
        b.device = device;
        b.dtype = dtype;
        b.batchSize = batchSize;
        b.kvBudgetBytes = kvBudgetBytes;
        b.maxSequenceLength = maxSequenceLength;
        b.streamingSinks = streamingSinks;
        b.streamingWindow = streamingWindow;
        b.seed = seed;
        b.partitions = partitions;
        b.sampling = sampling.toBuilder();
        b.failPartition = failPartition;
        b.failAfterRows = failAfterRows;
        return b;
    }

    public String model() {
        return model;
    }

    public boolean shippedModel() {
        return shippedModel;
    }

    public int partitions() {
        return partitions;
    }

    public long seed() {
        return seed;
    }

    public int failPartition() {
        return failPartition;
    }

    public int failAfterRows() {
        return failAfterRows;
    }

    /** The sampling values of lines that omit a field. */
    public SamplingParams samplingDefaults() {
        return sampling;
    }

    /** The generator each executor runs (its sequence length: {@link Builder#maxSequenceLength}, 0 for the model's context). */
    public GeneratorOptions generatorOptions() {
        GeneratorOptions o = GeneratorOptions.defaults().maxBatch(batchSize).kvBudgetBytes(kvBudgetBytes).maxSequenceLength(maxSequenceLength).seed(seed);
        return streamingWindow > 0 ? o.streaming(new Session.Streaming(streamingSinks, streamingWindow)) : o;
    }

    /**
     * Where a task runs: the device named in the spec; else the first GPU address Spark's resource
     * scheduler gave the task ({@code gpuAddresses}, from {@code TaskContext.resources()}); else the CPU.
     */
    public Device device(String[] gpuAddresses) {
        if (device != null) return Device.parse(device);
        if (gpuAddresses != null && gpuAddresses.length > 0) {
            try {
                return Device.cuda(Integer.parseInt(gpuAddresses[0].trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the GPU address Spark assigned, '" + gpuAddresses[0] + "', is not a CUDA device index "
                        + "(the discovery script must report indices such as \"0\", \"1\")");
            }
        }
        return Device.cpu();
    }

    /** The precision on a device: the spec's, else f32 on the CPU and bf16 on a GPU (as the CLI). */
    public DType dtype(Device d) {
        if (dtype == null) return d.isCuda() ? DType.BF16 : DType.F32;
        DType t = DType.parse(dtype);
        if (!t.isFloat()) throw new IllegalArgumentException("dtype must be f32, bf16 or f16, got '" + dtype + "'");
        return t;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerateSpec s && s.toBuilder().fields().equals(toBuilder().fields());
    }

    @Override
    public int hashCode() {
        return toBuilder().fields().hashCode();
    }

    /** Builder with {@code braindrip generate}'s defaults (batch 64, 4 GiB KV budget, max_tokens 128, temperature 1, seed 0). */
    public static final class Builder {
        private String model;
        private boolean shippedModel;
        private String device, dtype;
        private int batchSize = 64;
        private long kvBudgetBytes = GeneratorOptions.DEFAULT_KV_BUDGET;
        private int maxSequenceLength;
        private int streamingSinks, streamingWindow;
        private long seed;
        private int partitions;
        private SamplingParams.Builder sampling = SamplingParams.builder();
        private int failPartition = -1, failAfterRows = -1;

        private Builder() {}

        /** "demo", a directory the executors can read, or (with {@code shipped}) the name of a file shipped to them. */
        public Builder model(String v, boolean shipped) { model = v; shippedModel = shipped; return this; }
        public Builder model(String v) { return model(v, false); }
        /** cpu, cuda or cuda:N; null (the default): the task's GPU from Spark's resource scheduler, else cpu. */
        public Builder device(String v) { device = v; return this; }
        public Builder dtype(String v) { dtype = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        public Builder kvBudgetBytes(long v) { kvBudgetBytes = v; return this; }
        public Builder maxSequenceLength(int v) { maxSequenceLength = v; return this; }
        public Builder streaming(int sinks, int window) { streamingSinks = sinks; streamingWindow = window; return this; }
        public Builder seed(long v) { seed = v; return this; }
        /** Partitions the prompts are spread over (0: the session's default parallelism). */
        public Builder partitions(int v) { partitions = v; return this; }
        /** All the sampling defaults at once (replacing the values set so far); the single-field setters below change one. */
        public Builder sampling(SamplingParams v) { sampling = v.toBuilder(); return this; }
        public Builder maxTokens(int v) { sampling.maxTokens(v); return this; }
        public Builder temperature(float v) { sampling.temperature(v); return this; }
        public Builder topK(int v) { sampling.topK(v); return this; }
        public Builder topP(float v) { sampling.topP(v); return this; }
        public Builder minP(float v) { sampling.minP(v); return this; }
        public Builder repetitionPenalty(float v) { sampling.repetitionPenalty(v); return this; }
        public Builder presencePenalty(float v) { sampling.presencePenalty(v); return this; }
        public Builder frequencyPenalty(float v) { sampling.frequencyPenalty(v); return this; }
        public Builder stop(List<String> v) { sampling.stop(v == null ? List.of() : v); return this; }
        public Builder ignoreEos(boolean v) { sampling.ignoreEos(v); return this; }
        public Builder logprobs(int v) { sampling.logprobs(v); return this; }
        /** Testing retries: the first attempt of partition {@code partition} fails after writing {@code afterRows} rows. */
        public Builder failOnce(int partition, int afterRows) { failPartition = partition; failAfterRows = afterRows; return this; }

        private List<Object> fields() {
            return List.of(Objects.toString(model), shippedModel, Objects.toString(device), Objects.toString(dtype), batchSize, kvBudgetBytes,
                    maxSequenceLength, streamingSinks, streamingWindow, seed, partitions, sampling.build(), failPartition, failAfterRows);
        }

        public GenerateSpec build() {
            if (model == null || model.isBlank()) throw new IllegalArgumentException("model: give 'demo' or a model directory");
            if (batchSize < 1) throw new IllegalArgumentException("batch size (" + batchSize + ") must be >= 1");
            if (partitions < 0) throw new IllegalArgumentException("partitions (" + partitions + ") must be >= 0 (0: the default parallelism)");
            if (device != null) Device.parse(device);
            GenerateSpec s = new GenerateSpec(this); // checks the sampling defaults as SamplingParams does (field names as in CLI.md)
            s.generatorOptions();
            if (dtype != null) s.dtype(Device.cpu());
            return s;
        }
    }
}
