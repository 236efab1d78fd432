package dev.braindrip.cli;

import dev.braindrip.model.Transformer;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;

/** The --model argument of the model commands: a Hugging Face directory, or the name {@code demo}. */
final class ModelArg {
    private ModelArg() {}

    static Transformer load(String arg, Device device, DType dtype) throws IOException {
        if (arg.equals("demo")) {
            throw new UnsupportedOperationException("--model demo: the embedded demo model is not part of this build yet; give a model directory "
                    + "('braindrip init --arch llama --out DIR' writes a random one)");
        }
        return Transformer.load(Path.of(arg), device, dtype);
    }
}
