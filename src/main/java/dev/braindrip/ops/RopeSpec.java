package dev.braindrip.ops;

/**
 * Rotary embedding parameters. {@code rotaryDim} 0 means the whole head dim.
 * HF checkpoints use {@link Style#HALF}; Meta/GGUF weights {@link Style#INTERLEAVED}.
 */
public record RopeSpec(float theta, Style style, int rotaryDim) {
    public enum Style {
        HALF(0),
        INTERLEAVED(1);

        private final int code;

        Style(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        public static Style parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "half" -> HALF;
                case "interleaved" -> INTERLEAVED;
                default -> throw new IllegalArgumentException("unknown rope style '" + s + "' (expected half or interleaved)");
            };
        }
    }

    public RopeSpec {
        if (!(theta > 0) || Float.isInfinite(theta)) throw new IllegalArgumentException("rope: theta (" + theta + ") must be > 0");
        if (style == null) throw new IllegalArgumentException("rope: style must be given");
        if (rotaryDim < 0 || rotaryDim % 2 != 0) {
            throw new IllegalArgumentException("rope: rotaryDim (" + rotaryDim + ") must be even and >= 0");
        }
    }

    /** HF defaults: theta 10000, split-half, full head dim. */
    public static RopeSpec defaults() {
        return new RopeSpec(10000f, Style.HALF, 0);
    }
}
