package dev.braindrip.io;

import java.io.IOException;

/**
 * A safetensors file (or a sharded checkpoint's index) is malformed. The message names the file,
 * the tensor when there is one, and what is wrong, for example
 * {@code "model.safetensors: tensor 'w': data_offsets [0, 12] past the end of the data region (8 bytes)"}.
 */
public final class SafeTensorsFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final String tensor;
    private final String problem;

    /**
     * @param file the file name as shown in the message
     * @param tensor the tensor concerned, or null when the problem is not about one tensor
     * @param problem what is wrong
     */
    public SafeTensorsFormatException(String file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    /** As {@link #SafeTensorsFormatException(String, String, String)}, with the underlying cause. */
    public SafeTensorsFormatException(String file, String tensor, String problem, Throwable cause) {
        super(file + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + problem, cause);
        this.file = file;
        this.tensor = tensor;
        this.problem = problem;
    }

    /** The file name shown in the message. */
    public String file() {
        return file;
    }

    /** The tensor concerned, or null. */
    public String tensor() {
        return tensor;
    }

    /** What is wrong, without the file and tensor prefix. */
    public String problem() {
        return problem;
    }
}
