package dev.braindrip.cli;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import picocli.CommandLine.Option;

/** Options every subcommand shares (CLI.md): --device, --dtype, --seed, --debug. */
public final class CommonOptions {
    @Option(names = "--device", paramLabel = "cpu|cuda[:N]",
            description = "Device (default: cuda when a usable GPU is present, else cpu).")
    String device;

    @Option(names = "--dtype", paramLabel = "f32|bf16|f16",
            description = "Compute/storage precision (default: f32 on cpu, bf16 on cuda).")
    String dtype;

    @Option(names = "--seed", description = "Random seed (default: ${DEFAULT-VALUE}).", defaultValue = "0")
    long seed;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    public Device device() {
        Device d = device == null ? Device.best() : Device.parse(device);
        d.requireUsable();
        return d;
    }

    public DType dtype(Device d) {
        if (dtype == null) return d.isCuda() ? DType.BF16 : DType.F32;
        DType t = DType.parse(dtype);
        if (!t.isFloat()) throw new IllegalArgumentException("--dtype must be f32, bf16 or f16, got '" + dtype + "'");
        return t;
    }
}
