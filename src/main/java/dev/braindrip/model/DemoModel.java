package dev.braindrip.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The demo model that ships inside the library (CLI.md, "The demo model"): a byte-level Llama in
 * Hugging Face layout, trained by scripts/train_demo.py on the King James Bible. Its files are
 * class path resources under {@value #RESOURCE_DIR}; {@link #path()} unpacks them once into a cache
 * directory and returns that directory, which then loads like any other checkpoint:
 *
 * <pre>{@code
 * try (Transformer m = Transformer.load(DemoModel.NAME, Device.cpu(), null)) { ... }
 * }</pre>
 *
 * <p>The cache directory is {@code $BRAINDRIP_CACHE}, else {@code $XDG_CACHE_HOME/braindrip}, else
 * {@code ~/.cache/braindrip} (the system temporary directory when none of these can be written),
 * holding {@code demo-<first 12 hex digits of the weights' SHA-256>}. Unpacking writes a sibling
 * temporary directory, checks every file's size and SHA-256 against the shipped manifest, and
 * renames it into place, so concurrent processes (e.g. Spark executors on one host) never see a
 * partial copy.
 */
public final class DemoModel {
    /** The name {@code --model} and {@link Transformer#load(String, dev.braindrip.tensor.Device, dev.braindrip.tensor.DType)} take. */
    public static final String NAME = "demo";

    /** The name of the embedded Byte Latent Transformer demo (scripts/train_blt_demo.py), files under {@value #BLT_RESOURCE_DIR}. */
    public static final String BLT_NAME = "demo-blt";

    /** Where the files live on the class path. */
    public static final String RESOURCE_DIR = "/dev/braindrip/demo/";

    /** Where the BLT demo's files live on the class path. */
    public static final String BLT_RESOURCE_DIR = "/dev/braindrip/demo-blt/";

    private static final String MANIFEST = "manifest.json";
    private static final java.util.Map<String, Path> unpacked = new java.util.HashMap<>();

    private DemoModel() {}

    /** Whether {@code model} names an embedded model ({@value #NAME}, {@value #BLT_NAME}). */
    public static boolean isName(String model) {
        return NAME.equals(model) || BLT_NAME.equals(model);
    }

    private static String dirOf(String name) {
        return switch (name) {
            case NAME -> RESOURCE_DIR;
            case BLT_NAME -> BLT_RESOURCE_DIR;
            default -> throw new IllegalArgumentException("no embedded model '" + name + "' (known: " + NAME + ", " + BLT_NAME + ")");
        };
    }

    /** Whether this build carries the demo model's files. */
    public static boolean available() {
        return available(NAME);
    }

    /** Whether this build carries the files of the embedded model {@code name}. */
    public static boolean available(String name) {
        return DemoModel.class.getResource(dirOf(name) + MANIFEST) != null;
    }

    /** The directory holding the unpacked demo model (unpacking it on first use). */
    public static Path path() throws IOException {
        return path(NAME);
    }

    /** The directory holding the unpacked embedded model {@code name} (unpacking it on first use). */
    public static synchronized Path path(String name) throws IOException {
        String res = dirOf(name);
        Path p = unpacked.get(name);
        if (p != null && complete(p, manifest(res))) return p;
        List<Entry> files = manifest(res);
        String dir = name + "-" + files.stream().filter(e -> e.name.equals("model.safetensors")).findFirst()
                .orElseThrow(() -> new IllegalStateException(name + " manifest lists no model.safetensors")).sha256.substring(0, 12);
        IOException first = null;
        for (Path base : cacheRoots()) {
            try {
                p = unpack(base.resolve(dir), files, res);
                unpacked.put(name, p);
                return p;
            } catch (IOException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        throw new IOException("could not unpack the embedded model " + name + " into any cache directory (set BRAINDRIP_CACHE to a writable one)",
                first);
    }

    /** Unpacks the demo model into {@code dir} (kept when it already holds a complete copy) and returns it. */
    static Path unpackInto(Path dir) throws IOException {
        return unpack(dir, manifest(RESOURCE_DIR), RESOURCE_DIR);
    }

    private record Entry(String name, long size, String sha256) {}

    private static List<Entry> manifest(String res) throws IOException {
        try (InputStream in = DemoModel.class.getResourceAsStream(res + MANIFEST)) {
            if (in == null) {
                throw new IOException("the embedded model is not in this build (no class path resource " + res + MANIFEST
                        + "); give a model directory instead");
            }
            JsonNode root = Json.MAPPER.readTree(in);
            List<Entry> out = new ArrayList<>();
            for (JsonNode f : root.path("files")) out.add(new Entry(f.path("name").asText(), f.path("size").asLong(-1), f.path("sha256").asText()));
            if (out.isEmpty()) throw new IOException("manifest " + res + MANIFEST + " lists no files");
            return out;
        }
    }

    private static List<Path> cacheRoots() {
        List<Path> roots = new ArrayList<>();
        String env = System.getenv("BRAINDRIP_CACHE");
        if (env != null && !env.isBlank()) roots.add(Path.of(env));
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) roots.add(Path.of(xdg, "braindrip"));
        String home = System.getProperty("user.home");
        if (home != null && !home.isBlank() && !home.equals("?")) roots.add(Path.of(home, ".cache", "braindrip"));
        roots.add(Path.of(System.getProperty("java.io.tmpdir"), "braindrip-" + System.getProperty("user.name", "user")));
        return roots;
    }

    /** Whether {@code dir} holds every file of the manifest at its size (the hash was checked when it was written). */
    private static boolean complete(Path dir, List<Entry> files) {
        for (Entry e : files) {
            Path f = dir.resolve(e.name);
            try {
                if (!Files.isRegularFile(f) || Files.size(f) != e.size) return false;
            } catch (IOException x) {
                return false;
            }
        }
        return true;
    }

    private static Path unpack(Path dir, List<Entry> files, String res) throws IOException {
        if (complete(dir, files)) return dir;
        Path parent = dir.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, dir.getFileName() + ".tmp");
        try {
            for (Entry e : files) copyChecked(e, tmp.resolve(e.name), res);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException raced) {
                // another process finished first (rename onto a non-empty directory fails), or a damaged copy is in the way
                if (!complete(dir, files)) {
                    deleteTree(dir);
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                }
            }
            return dir;
        } finally {
            deleteTree(tmp);
        }
    }

    private static void copyChecked(Entry e, Path to, String res) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException x) {
            throw new IllegalStateException(x);
        }
        long n;
        try (InputStream in = DemoModel.class.getResourceAsStream(res + e.name)) {
            if (in == null) throw new IOException("the embedded model's " + e.name + " is missing from this build (" + res + e.name + ")");
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(to), sha)) {
                n = in.transferTo(out);
            }
        }
        String got = HexFormat.of().formatHex(sha.digest());
        if (n != e.size || !got.equals(e.sha256.toLowerCase(Locale.ROOT))) {
            throw new IOException("the embedded model's " + e.name + " in this build is damaged: " + n + " bytes, SHA-256 " + got + "; expected "
                    + e.size + " bytes, " + e.sha256);
        }
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException x) {
                    throw new UncheckedIOException(x);
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // best effort: a leftover temporary directory is harmless
        }
    }
}
