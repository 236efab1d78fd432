package dev.braindrip.generate;

import java.util.List;
import java.util.Map;

/** What a request starts from: text (through the model's tokenizer), token ids, or a chat rendered with the model's template. */
public sealed interface Prompt {
    record Text(String text) implements Prompt {
        public Text {
            if (text == null) throw new IllegalArgumentException("prompt: text must not be null");
        }
    }

    record Tokens(int[] ids) implements Prompt {
        public Tokens {
            if (ids == null || ids.length == 0) throw new IllegalArgumentException("prompt: tokens must not be empty");
            ids = ids.clone();
        }
    }

    /** A chat: messages of {"role", "content"} maps, rendered with add_generation_prompt. */
    record Chat(List<Map<String, Object>> messages) implements Prompt {
        public Chat {
            if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("prompt: messages must not be empty");
            messages = List.copyOf(messages);
        }
    }

    static Prompt text(String text) {
        return new Text(text);
    }

    static Prompt tokens(int... ids) {
        return new Tokens(ids);
    }

    static Prompt chat(List<Map<String, Object>> messages) {
        return new Chat(messages);
    }
}
