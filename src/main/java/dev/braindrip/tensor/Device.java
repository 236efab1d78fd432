package dev.braindrip.tensor;

import java.util.Objects;

/** Where a tensor lives: the host CPU or CUDA device N. Values; compare with equals. */
public final class Device {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0);

    private final Kind kind;
    private final int index;

    private Device(Kind kind, int index) {
        this.kind = kind;
        this.index = index;
    }

    public static Device cpu() {
        return CPU;
    }

    public static Device cuda(int index) {
        if (index < 0) throw new IllegalArgumentException("cuda device index (" + index + ") must be >= 0");
        return new Device(Kind.CUDA, index);
    }

    /** cuda:0 when a usable GPU is present (see {@link CudaRuntime#probe()}), else cpu. Never throws. */
    public static Device best() {
        return CudaRuntime.probe().usable() ? cuda(0) : cpu();
    }

    /** Parses "cpu", "cuda" or "cuda:N". */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return cpu();
        if (t.equals("cuda") || t.equals("gpu")) return cuda(0);
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device '" + s + "' (expected cpu, cuda or cuda:N)");
            }
        }
        throw new IllegalArgumentException("bad device '" + s + "' (expected cpu, cuda or cuda:N)");
    }

    public Kind kind() {
        return kind;
    }

    public int index() {
        return index;
    }

    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** Throws IllegalStateException with the probe's reason when this is a CUDA device that cannot be used. */
    public void requireUsable() {
        if (isCpu()) return;
        CudaRuntime.Probe p = CudaRuntime.probe();
        if (!p.usable()) throw new IllegalStateException("device " + this + " is not usable: " + p.reason());
        if (index >= p.deviceCount()) {
            throw new IllegalStateException("device " + this + " does not exist (" + p.deviceCount() + " CUDA device(s))");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.kind == kind && d.index == index;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, index);
    }

    @Override
    public String toString() {
        return isCpu() ? "cpu" : "cuda:" + index;
    }
}
