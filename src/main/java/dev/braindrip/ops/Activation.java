package dev.braindrip.ops;

/** Elementwise activations; codes match bd_activation. */
public enum Activation {
    RELU(0, "relu"),
    GELU(1, "gelu"),
    GELU_TANH(2, "gelu_tanh"),
    SILU(3, "silu");

    private final int code;
    private final String cliName;

    Activation(int code, String cliName) {
        this.code = code;
        this.cliName = cliName;
    }

    public int code() {
        return code;
    }

    public String cliName() {
        return cliName;
    }

    public static Activation parse(String s) {
        for (Activation a : values()) if (a.cliName.equalsIgnoreCase(s)) return a;
        throw new IllegalArgumentException("unknown activation '" + s + "' (expected relu, gelu, gelu_tanh or silu)");
    }
}
