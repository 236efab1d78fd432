package dev.braindrip.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The braindrip command line (../shared/CLI.md is the contract): exit 0 on success, 2 on bad
 * usage, 1 on a runtime error; errors print as one line "braindrip: ..." on stderr, with the
 * stack trace only under --debug.
 */
@Command(name = "braindrip", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Transformer kernels and models on NVIDIA GPUs (and the CPU) from Java.",
        subcommands = {GenerateCommand.class, ScoreCommand.class, ForwardCommand.class, KernelCommand.class, BenchCommand.class, InitCommand.class, InspectCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (for tests). */
    public static int run(String... args) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Throwable t = ex;
            System.err.println("braindrip: " + oneLine(t));
            if (debug) t.printStackTrace();
            return t instanceof IllegalArgumentException && t.getMessage() != null && t.getMessage().startsWith("usage:") ? 2 : 1;
        });
        cl.setParameterExceptionHandler((ex, argv) -> {
            System.err.println("braindrip: " + unknownName(ex).orElse(ex.getMessage()));
            String path = commandPath(ex.getCommandLine());
            System.err.println("Try 'braindrip " + (path.isEmpty() ? "" : path + " ") + "--help' for more information.");
            return 2;
        });
        return cl.execute(args);
    }

    /** An unknown subcommand (or kernel op) named with the valid names, rather than picocli's "Unmatched argument". */
    private static java.util.Optional<String> unknownName(CommandLine.ParameterException ex) {
        if (!(ex instanceof CommandLine.UnmatchedArgumentException u) || u.getUnmatched().isEmpty()) return java.util.Optional.empty();
        java.util.Map<String, CommandLine> subs = ex.getCommandLine().getSubcommands();
        String first = u.getUnmatched().get(0);
        if (subs.isEmpty() || first.startsWith("-")) return java.util.Optional.empty();
        String path = commandPath(ex.getCommandLine());
        String what = path.isEmpty() ? "command" : path.equals("kernel") ? "kernel op" : path + " subcommand";
        return java.util.Optional.of("unknown " + what + " '" + first + "' (one of: " + String.join(", ", subs.keySet()) + ")");
    }

    private static String commandPath(CommandLine cl) {
        String q = cl.getCommandSpec().qualifiedName(" ");
        return q.startsWith("braindrip ") ? q.substring("braindrip ".length()) : "";
    }

    static String oneLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) m = t.getClass().getSimpleName();
        return m.replace('\n', ' ').replace('\r', ' ');
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (generate, score, forward, init, inspect, kernel, bench)");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            Package p = Main.class.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            return new String[] {"braindrip " + (v == null ? "dev" : v)};
        }
    }
}
