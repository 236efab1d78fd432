package dev.braindrip.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.braindrip.model.Checkpoints;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** braindrip inspect (CLI.md): what a checkpoint is, without loading its weights. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Architecture, parameters (total and active per token), dtypes, layer pattern, features and KV-cache bytes per token.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR|demo", description = "Hugging Face model directory, or 'demo' (path: where it was unpacked).")
    String model;

    @Option(names = "--json", description = "Write one JSON object instead of text.")
    boolean json;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> info = Checkpoints.inspect(ModelArg.dir(model));
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(info));
            return 0;
        }
        for (Map.Entry<String, Object> e : info.entrySet()) {
            if (e.getKey().equals("config")) continue;
            if (e.getValue() instanceof List<?> l && e.getKey().equals("layer_pattern")) {
                System.out.println("layer_pattern:");
                for (int i = 0; i < l.size(); i++) System.out.printf("  %3d  %s%n", i, l.get(i));
            } else {
                System.out.println(e.getKey() + ": " + e.getValue());
            }
        }
        return 0;
    }
}
