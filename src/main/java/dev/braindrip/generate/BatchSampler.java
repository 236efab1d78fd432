package dev.braindrip.generate;

import dev.braindrip.model.Transformer;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.SampleBatch;
import dev.braindrip.ops.SampleResult;
import dev.braindrip.tensor.Tensor;
import java.util.List;

/**
 * The next token of every row of a batch of logits, each row under its own sequence's sampling
 * parameters, seed and step, in one call of the sampling kernel on the model's device: only the
 * chosen ids and the requested logprobs come back.
 */
final class BatchSampler implements AutoCloseable {
    /** Chosen ids, and per row the logprob entry (null when the row asked for none). */
    record Result(int[] ids, TokenLogprob[] logprobs) {
        TokenLogprob logprob(int row) {
            return logprobs[row];
        }
    }

    private final Ops ops;

    BatchSampler(Transformer model) {
        this.ops = Ops.on(model.activations());
    }

    /** The kernel's parameters of a request. */
    static SampleBatch.RowParams rowParams(SamplingParams p, long seed) {
        return new SampleBatch.RowParams(p.temperature(), p.hasTopK() ? p.topK() : 0, p.topP(), p.minP(), p.repetitionPenalty(),
                p.presencePenalty(), p.frequencyPenalty(), seed, p.logprobs());
    }

    /** logits (rows, V): row r belongs to seqs.get(r). */
    Result sample(Tensor logits, List<Generator.Sequence> seqs) {
        int rows = (int) logits.dim(0);
        SampleBatch.Builder b = SampleBatch.builder(rows);
        for (int r = 0; r < rows; r++) {
            Generator.Sequence s = seqs.get(r);
            b.row(r, s.rowParams, s.step(), s.context, s.context.length, s.tokens.raw(), s.tokens.size());
        }
        TokenLogprob[] lps = new TokenLogprob[rows];
        try (SampleResult res = ops.sample(logits, b.build())) {
            for (int r = 0; r < rows; r++) {
                if (seqs.get(r).params.logprobs() > 0) lps[r] = new TokenLogprob(res.ids()[r], res.logprobs()[r], res.topIds()[r], res.topLogprobs()[r]);
            }
            return new Result(res.ids(), lps);
        }
    }

    @Override
    public void close() {
    }
}
