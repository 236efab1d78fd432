package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files must either open, when they are in fact valid (then every tensor's bytes are the
 * file's bytes at its offsets), or fail with {@link SafeTensorsFormatException}; no other exception
 * may escape. The seed is random per run and printed with any failure; rerun one with
 * {@code -Dbraindrip.fuzz.seed=N}.
 */
class SafeTensorsFuzzTest {
    private static final int CASES = 6000;
    private static final String FILE = "fuzz.safetensors";
    private static final long SEED = Long.getLong("braindrip.fuzz.seed", new Random().nextLong());

    @TempDir
    Path tempDir;

    /** Where the cases are written: a RAM disk when there is one (creating files on disk dominates the run). */
    private Path dir;

    private int accepted;
    private int rejected;

    @BeforeEach
    void chooseFolder() throws IOException {
        Path shm = Path.of("/dev/shm");
        dir = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "braindrip-fuzz") : tempDir;
    }

    @AfterEach
    void removeFolder() throws IOException {
        if (!dir.equals(tempDir)) {
            Files.deleteIfExists(dir.resolve(FILE));
            Files.delete(dir);
        }
    }

    @Test
    void mutatedFilesOpenOrFailCleanly() throws IOException {
        Random random = new Random(SEED);
        List<FuzzMutations.Base> bases = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            bases.add(FuzzMutations.Base.of(RandomFiles.valid(random)));
        }
        List<FuzzMutations.Named> mutations = FuzzMutations.all();
        for (int i = 0; i < CASES; i++) {
            FuzzMutations.Named m = mutations.get(random.nextInt(mutations.size()));
            byte[] file = m.mutation().apply(random, bases.get(random.nextInt(bases.size())));
            check(file, "case " + i + " (" + m.name() + ")", m.expect());
        }
        assertTrue(accepted > CASES / 20 && rejected > CASES / 2,
                "seed " + SEED + ": only " + accepted + " accepted and " + rejected + " rejected");
    }

    @Test
    void everyPrefixOfAValidFileIsRejected() throws IOException {
        Random random = new Random(SEED);
        byte[] file = RandomFiles.valid(random);
        for (int n = 0; n < file.length; n++) {
            check(Arrays.copyOf(file, n), "prefix of " + n + " bytes", FuzzMutations.Expect.REJECT);
        }
        check(file, "whole file", FuzzMutations.Expect.ACCEPT);
    }

    private void check(byte[] bytes, String what, FuzzMutations.Expect expect) throws IOException {
        Path path = Files.write(dir.resolve(FILE), bytes);
        String context = "seed " + SEED + ", " + what + ", header " + headerPreview(bytes);
        try (SafeTensors st = open(path, context, expect)) {
            if (st != null) {
                verify(st, bytes, context);
            }
        } catch (RuntimeException | VirtualMachineError e) {
            fail(context + ": reading an accepted file failed: " + e, e);
        } finally {
            Files.delete(path);
        }
    }

    /** The opened file, or null when it was rightly rejected. */
    private SafeTensors open(Path path, String context, FuzzMutations.Expect expect) throws IOException {
        SafeTensors st;
        try {
            st = SafeTensors.open(path);
        } catch (SafeTensorsFormatException e) {
            rejected++;
            check(expect != FuzzMutations.Expect.ACCEPT, context, "a valid file was rejected: " + e.getMessage());
            check(e.getMessage().startsWith(FILE + ": "), context, "message does not name the file: " + e.getMessage());
            return null;
        } catch (RuntimeException | VirtualMachineError e) {
            throw new AssertionError(context + ": open threw " + e, e);
        }
        accepted++;
        if (expect == FuzzMutations.Expect.REJECT) {
            st.close();
            fail(context + ": a damaged file was accepted");
        }
        return st;
    }

    /** Checks an accepted file against its bytes, independently of how the reader validated it. */
    private static void verify(SafeTensors st, byte[] file, String context) {
        long headerLength = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        check(st.dataStart() == 8 + headerLength, context, "data start " + st.dataStart());
        List<TensorInfo> infos = new ArrayList<>();
        for (String name : st.names()) {
            TensorInfo t = st.info(name);
            infos.add(t);
            long from = st.dataStart() + t.begin();
            check(t.begin() >= 0 && t.begin() <= t.end() && st.dataStart() + t.end() <= file.length, context,
                    name + " outside the file: " + t);
            check(t.dtype().byteSizeOf(t.numel()) == t.byteSize(), context, name + " size disagrees: " + t);
            byte[] expected = Arrays.copyOfRange(file, (int) from, (int) (from + t.byteSize()));
            byte[] actual = new byte[(int) t.byteSize()];
            st.buffer(name).get(actual);
            check(Arrays.equals(expected, actual), context, name + " bytes differ from the file's");
            convert(st, name, context);
        }
        infos.sort(Comparator.comparingLong(TensorInfo::begin));
        long reach = 0;
        for (TensorInfo t : infos) {
            check(t.byteSize() == 0 || t.begin() >= reach, context, "overlap at " + t);
            reach = Math.max(reach, t.end());
        }
    }

    /** Conversions may refuse a dtype or an out-of-range value, with those documented exceptions only. */
    private static void convert(SafeTensors st, String name, String context) {
        for (int kind = 0; kind < 3; kind++) {
            try {
                switch (kind) {
                    case 0 -> st.toFloatArray(name);
                    case 1 -> st.toIntArray(name);
                    default -> st.toLongArray(name);
                }
            } catch (IllegalArgumentException | ArithmeticException expected) {
                // unsupported dtype, or an integer out of range
            }
        }
    }

    private static void check(boolean ok, String context, String problem) {
        if (!ok) {
            fail(context + ": " + problem);
        }
    }

    private static String headerPreview(byte[] bytes) {
        int n = Math.min(bytes.length, 8 + 160);
        String text = n <= 8 ? "" : new String(bytes, 8, n - 8, StandardCharsets.UTF_8);
        return "(" + bytes.length + " bytes) " + text.replaceAll("\\p{Cntrl}", "?");
    }
}
