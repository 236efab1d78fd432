package dev.braindrip.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The ways the fuzz test damages a valid safetensors file: byte-level edits of the length field,
 * header and data, and structural edits of the header's JSON through {@link HeaderModel}.
 */
final class FuzzMutations {
    /** A valid file, as bytes and as an editable header. */
    record Base(byte[] bytes, HeaderModel model) {
        static Base of(byte[] file) {
            return new Base(file, HeaderModel.of(file));
        }
    }

    interface Mutation {
        byte[] apply(Random r, Base base);
    }

    /** What the reader must do with a file so damaged. */
    enum Expect { REJECT, ACCEPT, EITHER }

    record Named(String name, Expect expect, Mutation mutation) {}

    /** Numbers and values that sit on or beyond the edges the reader must check. */
    static final String[] ODD_VALUES = {"0", "1", "-1", "3", "8", "4294967296", "2147483648",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
        "99999999999999999999999999", "1e400", "-1e400", "1.5", "-0", "1E2", "0.0", "\"8\"", "null", "true",
        "[]", "{}", "[0]", "[0,0]", "[1,0]", "\"F32\"", "\"\"", "1" + "0".repeat(1200)};

    private static final String JSON_BYTES = "{}[]\":,0123456789-+.eE truefalsnul\\u_";

    private FuzzMutations() {}

    static List<Named> all() {
        return List.of(
                new Named("truncate", Expect.REJECT, FuzzMutations::truncate),
                new Named("flip header bytes", Expect.EITHER, FuzzMutations::flipHeaderBytes),
                new Named("insert into header", Expect.EITHER, FuzzMutations::insertIntoHeader),
                new Named("delete from header", Expect.EITHER, FuzzMutations::deleteFromHeader),
                new Named("header length field", Expect.EITHER, FuzzMutations::headerLengthField),
                new Named("shorten data region", Expect.REJECT, FuzzMutations::shortenData),
                new Named("lengthen data region", Expect.ACCEPT, FuzzMutations::lengthenData),
                new Named("swap offsets", Expect.EITHER, FuzzMutations::swapOffsets),
                new Named("shift offsets", Expect.EITHER, FuzzMutations::shiftOffsets),
                new Named("odd field value", Expect.EITHER, FuzzMutations::oddFieldValue),
                new Named("odd shape", Expect.EITHER, FuzzMutations::oddShape),
                new Named("odd offsets", Expect.EITHER, FuzzMutations::oddOffsets),
                new Named("other dtype", Expect.EITHER, FuzzMutations::otherDtype),
                new Named("drop field", Expect.EITHER, FuzzMutations::dropField),
                new Named("duplicate key", Expect.REJECT, FuzzMutations::duplicateKey),
                new Named("odd metadata", Expect.EITHER, FuzzMutations::oddMetadata),
                new Named("odd top level", Expect.EITHER, FuzzMutations::oddTopLevel),
                new Named("valid edits", Expect.ACCEPT, FuzzMutations::validEdits),
                new Named("garbage", Expect.EITHER, FuzzMutations::garbage));
    }

    // ---- byte-level

    static byte[] truncate(Random r, Base b) {
        byte[] base = b.bytes();
        return Arrays.copyOf(base, r.nextInt(base.length));
    }

    private static int headerLength(byte[] file) {
        return (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private static byte[] withLength(byte[] file, long length) {
        byte[] copy = file.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
        return copy;
    }

    static byte[] flipHeaderBytes(Random r, Base b) {
        byte[] base = b.bytes();
        byte[] f = base.clone();
        int n = headerLength(f);
        for (int k = 1 + r.nextInt(4); k > 0; k--) {
            int at = 8 + r.nextInt(n);
            f[at] = r.nextBoolean() ? (byte) (f[at] ^ (1 << r.nextInt(8))) : randomJsonByte(r);
        }
        return f;
    }

    static byte[] insertIntoHeader(Random r, Base b) {
        byte[] base = b.bytes();
        int n = headerLength(base);
        int at = 8 + r.nextInt(n + 1);
        byte[] insert = new byte[1 + r.nextInt(6)];
        for (int i = 0; i < insert.length; i++) {
            insert[i] = randomJsonByte(r);
        }
        byte[] f = splice(base, at, 0, insert);
        return r.nextBoolean() ? withLength(f, n + insert.length) : f;
    }

    static byte[] deleteFromHeader(Random r, Base b) {
        byte[] base = b.bytes();
        int n = headerLength(base);
        int at = 8 + r.nextInt(n);
        int count = 1 + r.nextInt(Math.min(8, 8 + n - at));
        byte[] f = splice(base, at, count, new byte[0]);
        return r.nextBoolean() ? withLength(f, n - count) : f;
    }

    static byte[] headerLengthField(Random r, Base b) {
        byte[] base = b.bytes();
        int n = headerLength(base);
        long[] choices = {r.nextLong(), 0, n - 1 - r.nextInt(3), n + 1 + r.nextInt(3), base.length - 8,
            base.length - 7, 100_000_000L, 100_000_001L, Long.MAX_VALUE, -1, r.nextInt(), 1L << 32 | n};
        return withLength(base, choices[r.nextInt(choices.length)]);
    }

    static byte[] shortenData(Random r, Base b) {
        byte[] base = b.bytes();
        return Arrays.copyOf(base, Math.max(0, base.length - 1 - r.nextInt(16)));
    }

    static byte[] lengthenData(Random r, Base b) {
        byte[] base = b.bytes();
        byte[] f = Arrays.copyOf(base, base.length + 1 + r.nextInt(16)); // bytes after the last tensor: allowed
        f[f.length - 1] = (byte) r.nextInt();
        return f;
    }

    static byte[] garbage(Random r, Base ignored) {
        byte[] header = new byte[r.nextInt(64)];
        for (int i = 0; i < header.length; i++) {
            header[i] = r.nextInt(4) == 0 ? (byte) r.nextInt() : randomJsonByte(r);
        }
        return RawFiles.file(header.length, header, RawFiles.bytes(r.nextInt(32), r.nextInt()));
    }

    private static byte randomJsonByte(Random r) {
        return (byte) JSON_BYTES.charAt(r.nextInt(JSON_BYTES.length()));
    }

    private static byte[] splice(byte[] f, int at, int remove, byte[] insert) {
        byte[] out = new byte[f.length - remove + insert.length];
        System.arraycopy(f, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(f, at + remove, out, at + insert.length, f.length - at - remove);
        return out;
    }

    // ---- structural

    private static HeaderModel.Member anyTensor(Random r, HeaderModel m) {
        List<HeaderModel.Member> tensors = m.tensors();
        return tensors.isEmpty() ? null : tensors.get(r.nextInt(tensors.size()));
    }

    private static String odd(Random r) {
        return ODD_VALUES[r.nextInt(ODD_VALUES.length)];
    }

    static byte[] swapOffsets(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        HeaderModel.Member b = anyTensor(r, m);
        if (a != null) {
            String t = a.fields.get("data_offsets");
            a.fields.put("data_offsets", b.fields.get("data_offsets"));
            b.fields.put("data_offsets", t);
        }
        return m.toFile();
    }

    static byte[] shiftOffsets(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            long shift = r.nextInt(9) - 4;
            long[] o = parseOffsets(a.fields.get("data_offsets"));
            a.fields.put("data_offsets", "[" + Math.max(0, o[0] + shift) + "," + Math.max(0, o[1] + shift) + "]");
        }
        return m.toFile();
    }

    private static long[] parseOffsets(String json) {
        String[] parts = json.replaceAll("[\\[\\] ]", "").split(",");
        return new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
    }

    static byte[] oddFieldValue(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            String[] fields = {"dtype", "shape", "data_offsets"};
            a.fields.put(fields[r.nextInt(3)], odd(r));
        }
        return m.toFile();
    }

    static byte[] oddShape(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            List<String> dims = new ArrayList<>(List.of(a.fields.get("shape").replaceAll("[\\[\\] ]", "").split(",")));
            dims.removeIf(String::isEmpty);
            int choice = dims.isEmpty() ? 0 : r.nextInt(3);
            switch (choice) {
                case 0 -> dims.add(r.nextInt(dims.size() + 1), odd(r));
                case 1 -> dims.remove(r.nextInt(dims.size()));
                default -> dims.set(r.nextInt(dims.size()), odd(r));
            }
            a.fields.put("shape", "[" + String.join(",", dims) + "]");
        }
        return m.toFile();
    }

    static byte[] oddOffsets(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            long[] o = parseOffsets(a.fields.get("data_offsets"));
            String begin = r.nextBoolean() ? Long.toString(o[0]) : odd(r);
            String end = r.nextBoolean() ? Long.toString(o[1]) : odd(r);
            a.fields.put("data_offsets", "[" + begin + "," + end + "]");
        }
        return m.toFile();
    }

    static byte[] otherDtype(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            SafeTensorsDType[] all = SafeTensorsDType.values();
            String[] unknown = {"F128", "f32", "", "F8_E4M3FN", "BF16 ", "I4", "Q4_0"};
            String name = r.nextBoolean() ? all[r.nextInt(all.length)].jsonName() : unknown[r.nextInt(unknown.length)];
            a.fields.put("dtype", HeaderModel.quote(name));
        }
        return m.toFile();
    }

    static byte[] dropField(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null) {
            List<String> keys = new ArrayList<>(a.fields.keySet());
            a.fields.remove(keys.get(r.nextInt(keys.size())));
        }
        return m.toFile();
    }

    static byte[] duplicateKey(Random r, Base base) {
        HeaderModel m = base.model().copy();
        HeaderModel.Member a = anyTensor(r, m);
        if (a == null) {
            return m.toFile();
        }
        if (r.nextBoolean()) {
            m.members.add(r.nextInt(m.members.size() + 1), a.copy()); // same tensor twice
        } else {
            String field = new ArrayList<>(a.fields.keySet()).get(r.nextInt(a.fields.size()));
            a.rawFields.add(HeaderModel.quote(field) + ":" + a.fields.get(field)); // same field twice
        }
        return m.toFile();
    }

    static byte[] oddMetadata(Random r, Base base) {
        HeaderModel m = base.model().copy();
        String[] values = {"{\"k\":" + odd(r) + "}", odd(r), "{\"k\":\"v\",\"k\":\"w\"}", "{\"k\":\"v\"}", "{}"};
        m.members.add(r.nextInt(m.members.size() + 1), new HeaderModel.Member("__metadata__", null,
                values[r.nextInt(values.length)]));
        return m.toFile();
    }

    static byte[] oddTopLevel(Random r, Base base) {
        HeaderModel m = base.model().copy();
        String body = m.headerJson();
        String[] forms = {"[" + body + "]", odd(r), "[".repeat(5000) + "]".repeat(5000),
            "{\"a\":" + "[".repeat(2000) + "]".repeat(2000) + "}", body + body, "\uFEFF" + body, body + "\u0000",
            "{\"" + "n".repeat(60_000) + "\":1}"};
        return RawFiles.file(forms[r.nextInt(forms.length)], m.data);
    }

    /** Edits that keep the file valid: padding, member order, extra fields, trailing data. */
    static byte[] validEdits(Random r, Base base) {
        HeaderModel m = base.model().copy();
        m.padding = " ".repeat(r.nextInt(20)) + (r.nextBoolean() ? "\n\t\r" : "");
        Collections.shuffle(m.members, r);
        HeaderModel.Member a = anyTensor(r, m);
        if (a != null && r.nextBoolean()) {
            a.fields.put("extra", "[1.5,\"x\",{\"k\":null}]"); // unknown fields are ignored
        }
        byte[] file = m.toFile();
        return r.nextBoolean() ? file : Arrays.copyOf(file, file.length + r.nextInt(9));
    }
}
