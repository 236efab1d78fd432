package dev.braindrip.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.generate.Completion;
import dev.braindrip.generate.FinishReason;
import dev.braindrip.generate.GeneratedToken;
import dev.braindrip.generate.Generator;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.generate.Prompt;
import dev.braindrip.generate.SamplingParams;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.TokenBatch;
import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model directory with tokenizer.json and a chat template, end to end through the generator:
 * text and chat prompts encode as the tokenizer says, the completion's text is the decode of its
 * ids (ids past the tokenizer's vocabulary have no text), the streamed pieces make that text, and
 * the tokenizer's EOS ends generation.
 */
class GenerateWithTokenizerTest {
    @TempDir
    Path tmp;

    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    static int[] argmaxChain(Transformer m, int[] prompt, int n) {
        return dev.braindrip.testing.Greedy.argmaxChain(m, prompt, n);
    }

    @Test
    void chatAndTextThroughTheModelsTokenizer() throws Exception {
        Path dir = TinyTokenizers.dir(tmp, "model", TinyTokenizers.gpt2(), Map.of("tokenizer_config.json",
                "{\"eos_token\": \"<|im_end|>\", \"chat_template\": " + TinyTokenizers.MAPPER.writeValueAsString(CHATML) + "}"));
        Checkpoints.writeRandom(Architectures.of("qwen2").preset("tiny"), DType.F32, 12, dir);
        List<Map<String, Object>> chat = List.of(Map.of("role", "user", "content", "hello the world"));
        try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32); Generator g = Generator.of(m, GeneratorOptions.defaults())) {
            Tokenizer tok = g.tokenizer();
            assertTrue(tok instanceof HfTokenizer, "the directory's tokenizer.json: " + tok);
            String rendered = tok.applyChatTemplate(chat, true);
            assertEquals("<|im_start|>user\nhello the world<|im_end|>\n<|im_start|>assistant\n", rendered);
            int[] chatIds = tok.encode(rendered, false);
            assertEquals(TinyTokenizers.G_IM_START, chatIds[0], "special tokens inside the rendered chat are single ids");
            List<GeneratedToken> streamed = new ArrayList<>();
            Completion c = Generator.await(g.submit(Prompt.chat(chat), SamplingParams.builder().temperature(0).maxTokens(12).ignoreEos(true).build(),
                    streamed::add));
            assertEquals(chatIds.length, c.promptTokens());
            assertArrayEquals(argmaxChain(m, chatIds, 12), c.tokens());
            int[] known = Arrays.stream(c.tokens()).filter(id -> id < tok.vocabSize()).toArray();
            assertEquals(tok.decode(known, true), c.text(), "the text is the decode of the generated ids");
            StringBuilder joined = new StringBuilder();
            for (GeneratedToken t : streamed) joined.append(t.text());
            assertEquals(c.text(), joined.toString());

            int[] textIds = tok.encode("hello the world", true);
            Completion t = g.generate(Prompt.text("hello the world"), SamplingParams.builder().temperature(0).maxTokens(5).ignoreEos(true).build());
            assertEquals(textIds.length, t.promptTokens());
            assertArrayEquals(argmaxChain(m, textIds, 5), t.tokens());

            // the tokenizer's EOS (<|im_end|> from tokenizer_config.json) ends generation wherever greedy decoding reaches it
            assertTrue(tok.eosIds().contains(TinyTokenizers.G_IM_END), "eos_token of tokenizer_config: " + tok.eosIds());
            int[] free = argmaxChain(m, textIds, 40);
            int at = -1;
            for (int i = 0; i < free.length && at < 0; i++) if (tok.eosIds().contains(free[i])) at = i;
            Completion e = g.generate(Prompt.text("hello the world"), SamplingParams.builder().temperature(0).maxTokens(40).build());
            if (at >= 0) {
                assertEquals(FinishReason.EOS, e.finishReason());
                assertArrayEquals(Arrays.copyOf(free, at), e.tokens());
            } else {
                assertEquals(FinishReason.LENGTH, e.finishReason());
                assertArrayEquals(free, e.tokens());
            }
        }
    }
}
