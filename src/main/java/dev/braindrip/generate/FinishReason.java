package dev.braindrip.generate;

import java.util.Locale;

/** Why a sequence stopped: its token budget or the context ({@code length}), a stop id or string ({@code stop}), the model's EOS ({@code eos}). */
public enum FinishReason {
    LENGTH, STOP, EOS;

    /** The name in output files: length, stop, eos. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
