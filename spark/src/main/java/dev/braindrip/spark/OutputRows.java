package dev.braindrip.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.generate.Completion;
import dev.braindrip.generate.JsonlBatch;
import dev.braindrip.generate.TokenLogprob;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The output rows of the job: CLI.md's fields as columns, plus {@code index} (the input row's
 * position, 0-based; rows come out in this order) and {@code json} (the row exactly as
 * {@code braindrip generate} writes it). {@code id} holds a string id as it is and any other id
 * as its JSON text. A row that could not run has {@code error} ("line N: ...") and nulls for the
 * generation fields.
 */
public final class OutputRows {
    private OutputRows() {}

    private static final StructType TOP = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.FloatType, false)});

    private static final StructType LOGPROB = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.FloatType, false),
            DataTypes.createStructField("top", DataTypes.createArrayType(TOP, false), false)});

    public static final StructType SCHEMA = new StructType(new StructField[] {
            field("index", DataTypes.LongType, false),
            field("id", DataTypes.StringType, true),
            field("text", DataTypes.StringType, true),
            field("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), true),
            field("finish_reason", DataTypes.StringType, true),
            field("prompt_tokens", DataTypes.IntegerType, true),
            field("generated_tokens", DataTypes.IntegerType, true),
            field("logprobs", DataTypes.createArrayType(LOGPROB, false), true),
            field("error", DataTypes.StringType, true),
            field("json", DataTypes.StringType, false)});

    private static StructField field(String name, DataType t, boolean nullable) {
        return DataTypes.createStructField(name, t, nullable);
    }

    /** The row of a completion. */
    public static Row of(long index, JsonNode id, Completion c, boolean text) {
        ObjectNode json = JsonlBatch.row(id, c, text);
        Row[] lps = null; // arrays, which Spark's row encoder takes (not java.util.List)
        if (!c.logprobs().isEmpty()) {
            lps = new Row[c.logprobs().size()];
            for (int i = 0; i < lps.length; i++) {
                TokenLogprob lp = c.logprobs().get(i);
                Row[] top = new Row[lp.topIds().length];
                for (int k = 0; k < top.length; k++) top[k] = RowFactory.create(lp.topIds()[k], lp.topLogprobs()[k]);
                lps[i] = RowFactory.create(lp.token(), lp.logprob(), top);
            }
        }
        return RowFactory.create(index, idText(id), text ? c.text() : null, c.tokens().clone(), c.finishReason().label(), c.promptTokens(),
                c.generatedTokens(), lps, null, JsonlBatch.toJson(json));
    }

    /** The row of a line that cannot run. */
    public static Row error(long index, JsonNode id, long number, String error) {
        ObjectNode json = JsonlBatch.errorRow(id, number, error);
        return RowFactory.create(index, idText(id), null, null, null, null, null, null, json.get("error").asText(), JsonlBatch.toJson(json));
    }

    static String idText(JsonNode id) {
        if (id == null || id.isNull()) return null;
        return id.isTextual() ? id.asText() : JsonlBatch.toJson(id);
    }
}
