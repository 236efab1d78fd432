package dev.braindrip.io.tokenizer;

/**
 * A chat template refused the conversation ({@code raise_exception}, for example "Conversation roles
 * must alternate user/assistant/user/assistant/...") or failed to render; the message says which.
 */
public final class ChatTemplateException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ChatTemplateException(String message) {
        super(message);
    }
}
