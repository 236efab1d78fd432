package dev.braindrip.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.reference.HfRefWeights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A minimal safetensors reader for tests, independent of the main code's {@code dev.braindrip.io}
 * (F32, F16, BF16, F64, I64, I32, U8; values as doubles or raw bytes), and the fp64 weights of a
 * Hugging Face checkpoint directory for {@code HfReference}.
 */
public final class SafeTensorsFile {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor's raw form. */
    public record Raw(String dtype, long[] shape, byte[] data) {
    }

    public final Map<String, JsonNode> tensors = new LinkedHashMap<>();
    public final Map<String, String> metadata = new HashMap<>();
    private final ByteBuffer data;
    private final Path path;

    public SafeTensorsFile(Path path) throws IOException {
        this.path = path;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.flip().getLong();
            if (n <= 0 || n > 100_000_000 || 8 + n > ch.size()) {
                throw new IOException(path + ": bad header length " + n);
            }
            ByteBuffer hdr = ByteBuffer.allocate((int) n);
            readFully(ch, hdr, 8);
            JsonNode header = JSON.readTree(new String(hdr.array(), StandardCharsets.UTF_8).trim());
            for (Map.Entry<String, JsonNode> e : header.properties()) {
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, JsonNode> me : e.getValue().properties()) {
                        metadata.put(me.getKey(), me.getValue().asText());
                    }
                } else {
                    tensors.put(e.getKey(), e.getValue());
                }
            }
            long dataLen = ch.size() - 8 - n;
            data = ch.map(FileChannel.MapMode.READ_ONLY, 8 + n, dataLen).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private JsonNode info(String name) {
        JsonNode t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("missing tensor: " + name + " in " + path);
        }
        return t;
    }

    public long[] shape(String name) {
        JsonNode s = info(name).get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    public String dtype(String name) {
        return info(name).get("dtype").asText();
    }

    /** The tensor's bytes as stored. */
    public byte[] bytes(String name) {
        JsonNode t = info(name);
        long begin = t.get("data_offsets").get(0).asLong();
        long end = t.get("data_offsets").get(1).asLong();
        if (begin < 0 || end < begin || end > data.capacity()) {
            throw new IllegalArgumentException(name + ": offsets " + begin + ".." + end + " outside the data");
        }
        byte[] out = new byte[(int) (end - begin)];
        data.slice((int) begin, out.length).get(out);
        return out;
    }

    public Raw raw(String name) {
        return new Raw(dtype(name), shape(name), bytes(name));
    }

    /** Every tensor, in file order. */
    public LinkedHashMap<String, Raw> all() {
        LinkedHashMap<String, Raw> out = new LinkedHashMap<>();
        for (String n : tensors.keySet()) {
            out.put(n, raw(n));
        }
        return out;
    }

    public double[] get(String name) {
        JsonNode t = info(name);
        String dtype = t.get("dtype").asText();
        long begin = t.get("data_offsets").get(0).asLong();
        long end = t.get("data_offsets").get(1).asLong();
        long count = 1;
        for (long d : shape(name)) {
            count *= d;
        }
        int width = width(dtype);
        if (end - begin != count * width || end > data.capacity()) {
            throw new IllegalArgumentException(name + ": offsets " + begin + ".." + end
                    + " do not fit " + count + " × " + dtype);
        }
        double[] out = new double[(int) count];
        int base = (int) begin;
        for (int i = 0; i < out.length; i++) {
            int at = base + i * width;
            switch (dtype) {
                case "F64":
                    out[i] = data.getDouble(at);
                    break;
                case "I64":
                    out[i] = data.getLong(at);
                    break;
                case "F32":
                    out[i] = data.getFloat(at);
                    break;
                case "I32":
                    out[i] = data.getInt(at);
                    break;
                case "BF16":
                    out[i] = Float.intBitsToFloat((data.getShort(at) & 0xFFFF) << 16);
                    break;
                default: // F16
                    out[i] = halfToDouble(data.getShort(at) & 0xFFFF);
                    break;
            }
        }
        return out;
    }

    public static int width(String dtype) {
        switch (dtype) {
            case "F64":
            case "I64":
                return 8;
            case "F32":
            case "I32":
                return 4;
            case "F16":
            case "BF16":
                return 2;
            default:
                throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }

    /** IEEE 754 binary16 → double, by hand (Float.float16ToFloat is Java 20+). */
    public static double halfToDouble(int bits) {
        int sign = (bits >>> 15) & 1;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        double v;
        if (exp == 0) {
            v = mant * Math.pow(2, -24);
        } else if (exp == 31) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = (1.0 + mant / 1024.0) * Math.pow(2, exp - 15);
        }
        return sign == 1 ? -v : v;
    }

    /** The fp64 weights of a checkpoint directory (model.safetensors or its sharded index). */
    public static HfRefWeights weights(Path dir) throws IOException {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        Map<String, SafeTensorsFile> byTensor = new HashMap<>();
        if (Files.exists(single)) {
            SafeTensorsFile f = new SafeTensorsFile(single);
            for (String n : f.tensors.keySet()) {
                byTensor.put(n, f);
            }
        } else if (Files.exists(index)) {
            JsonNode map = JSON.readTree(index.toFile()).get("weight_map");
            Map<String, SafeTensorsFile> files = new HashMap<>();
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                String file = e.getValue().asText();
                SafeTensorsFile f = files.get(file);
                if (f == null) {
                    f = new SafeTensorsFile(dir.resolve(file));
                    files.put(file, f);
                }
                byTensor.put(e.getKey(), f);
            }
        } else {
            throw new IOException(dir + ": neither model.safetensors nor model.safetensors.index.json");
        }
        return new HfRefWeights() {
            @Override
            public boolean has(String name) {
                return byTensor.containsKey(name);
            }

            @Override
            public long[] shape(String name) {
                return file(name).shape(name);
            }

            @Override
            public double[] get(String name) {
                return file(name).get(name);
            }

            private SafeTensorsFile file(String name) {
                SafeTensorsFile f = byTensor.get(name);
                if (f == null) {
                    throw new IllegalArgumentException("missing tensor: " + name);
                }
                return f;
            }
        };
    }
}
