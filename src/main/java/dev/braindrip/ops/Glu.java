package dev.braindrip.ops;

/** Gated linear units y = act(gate) * up; codes match bd_glu. */
public enum Glu {
    SWIGLU(0, "swiglu"),
    GEGLU(1, "geglu"),
    GEGLU_TANH(2, "geglu_tanh");

    private final int code;
    private final String cliName;

    Glu(int code, String cliName) {
        this.code = code;
        this.cliName = cliName;
    }

    public int code() {
        return code;
    }

    public String cliName() {
        return cliName;
    }

    public static Glu parse(String s) {
        for (Glu g : values()) if (g.cliName.equalsIgnoreCase(s)) return g;
        throw new IllegalArgumentException("unknown glu '" + s + "' (expected swiglu, geglu or geglu_tanh)");
    }
}
