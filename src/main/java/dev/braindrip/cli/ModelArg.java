package dev.braindrip.cli;

import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;

/** The --model argument of the model commands: a Hugging Face directory, or the name of an embedded model ({@code demo}, {@code demo-blt}). */
final class ModelArg {
    private ModelArg() {}

    static Transformer load(String arg, Device device, DType dtype) throws IOException {
        return Transformer.load(arg, device, dtype);
    }

    static Path dir(String arg) throws IOException {
        return Transformer.resolve(arg);
    }
}
