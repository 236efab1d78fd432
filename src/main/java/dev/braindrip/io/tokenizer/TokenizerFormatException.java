package dev.braindrip.io.tokenizer;

import java.io.IOException;

/**
 * A tokenizer file (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
 * generation_config.json, config.json) is malformed or inconsistent. The message names the file and
 * what is wrong, for example {@code "tokenizer_config.json: eos_token must be a string or an object
 * with a 'content' string, found number"}.
 */
public final class TokenizerFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final String problem;

    public TokenizerFormatException(String file, String problem) {
        this(file, problem, null);
    }

    public TokenizerFormatException(String file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** The file as shown in the message. */
    public String file() {
        return file;
    }

    /** What is wrong, without the file prefix. */
    public String problem() {
        return problem;
    }
}
