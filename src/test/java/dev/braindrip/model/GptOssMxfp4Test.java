package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gpt-oss experts stored in MXFP4 (the released checkpoints' format, HF integrations/mxfp4.py):
 * a random gpt_oss tiny model (hidden 64, expert width 64: two 32-element blocks per row) has its
 * expert matrices quantized by this test's own encoder into {@code *_blocks} (E2M1 nibbles, low
 * nibble = even element) and {@code *_scales} (E8M0). Loading it must give exactly the decoded
 * values (F32 and BF16, both exact for E2M1 × 2^k), the same logits, bit for bit, as the decoded
 * values saved densely, and a save that writes the dense tensors.
 */
class GptOssMxfp4Test {
    static final float[] FP4 = {+0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};

    @TempDir
    Path tmp;

    /** An MXFP4 encoding of an (…, R, C) tensor (row-major floats) and the values it decodes to, in the same layout. */
    record Quantized(byte[] blocks, byte[] scales, float[] decoded) {}

    /**
     * Per block of 32: scale 2^(s − 127) with s the smallest exponent that brings the block's
     * largest magnitude to ≤ 6, each value to its nearest E2M1 (ties to the lower code). A few
     * blocks are made special: all zero, and one with a −0 and the extremes ±6·scale.
     */
    static Quantized quantize(float[] x, Random rnd) {
        int blocks = x.length / 32;
        byte[] b = new byte[blocks * 16], s = new byte[blocks];
        float[] dec = new float[x.length];
        for (int g = 0; g < blocks; g++) {
            float max = 0;
            for (int i = 0; i < 32; i++) max = Math.max(max, Math.abs(x[g * 32 + i]));
            int e = max == 0 ? 0 : Math.getExponent(max / 6f) + (max / 6f > Math.scalb(1f, Math.getExponent(max / 6f)) ? 1 : 0);
            if (g % 7 == 3) e -= 1 + rnd.nextInt(2); // some blocks saturate at ±6
            int code = Math.max(1, Math.min(254, e + 127));
            s[g] = (byte) code;
            float scale = Math.scalb(1f, code - 127);
            for (int i = 0; i < 32; i++) {
                int nib = nearest(x[g * 32 + i] / scale);
                if (g == 1) nib = 0;                      // an all-zero block
                if (g == 2 && i == 5) nib = 8;            // −0
                int at = g * 16 + i / 2;
                b[at] = (byte) (i % 2 == 0 ? (b[at] & 0xF0) | nib : (b[at] & 0x0F) | (nib << 4));
                dec[g * 32 + i] = FP4[nib] * scale;
            }
        }
        return new Quantized(b, s, dec);
    }

    private static int nearest(float v) {
        int best = 0;
        for (int c = 0; c < 16; c++) if (Math.abs(FP4[c] - v) < Math.abs(FP4[best] - v)) best = c;
        return best;
    }

    /** (E, a, b) row-major → (E, b, a). */
    static float[] transposeLast2(float[] x, int e, int a, int b) {
        float[] out = new float[x.length];
        for (int k = 0; k < e; k++) {
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < b; j++) out[(k * b + j) * a + i] = x[(k * a + i) * b + j];
            }
        }
        return out;
    }

    static float[] floats(SafeTensorsFile.Raw r) {
        assertEquals("F32", r.dtype());
        ByteBuffer bb = ByteBuffer.wrap(r.data()).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[r.data().length / 4];
        for (int i = 0; i < out.length; i++) out[i] = bb.getFloat();
        return out;
    }

    static SafeTensorsFile.Raw f32(float[] v, long... shape) {
        ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) bb.putFloat(f);
        return new SafeTensorsFile.Raw("F32", shape, bb.array());
    }

    @Test
    void mxfp4ExpertsLoadAsTheirDecodedValues() throws Exception {
        ModelConfig c = Architectures.of("gpt_oss").preset("tiny");
        int e = c.moe().experts(), h = c.hidden(), f = c.moe().expertFfn();
        assertTrue(h % 64 == 0 && f % 64 == 0, "two or more blocks per row");
        Path random = tmp.resolve("random");
        Checkpoints.writeRandom(c, DType.F32, 11, random);

        Map<String, SafeTensorsFile.Raw> src = new SafeTensorsFile(random.resolve("model.safetensors")).all();
        Map<String, SafeTensorsFile.Raw> packed = new LinkedHashMap<>(), dense = new LinkedHashMap<>();
        Map<String, float[]> decoded = new LinkedHashMap<>();   // canonical name → (out, in) decoded values
        Random rnd = new Random(5);
        for (Map.Entry<String, SafeTensorsFile.Raw> t : src.entrySet()) {
            String n = t.getKey();
            boolean gateUp = n.endsWith("mlp.experts.gate_up_proj"), down = n.endsWith("mlp.experts.down_proj");
            if (!gateUp && !down) {
                packed.put(n, t.getValue());
                dense.put(n, t.getValue());
                continue;
            }
            // HF stores x·W: gate_up (E, H, 2F), down (E, F, H); MXFP4 holds the (out, in) transposes
            int in = gateUp ? h : f, out = gateUp ? 2 * f : h;
            float[] linear = transposeLast2(floats(t.getValue()), e, in, out);
            Quantized q = quantize(linear, rnd);
            packed.put(n + "_blocks", new SafeTensorsFile.Raw("U8", new long[] {e, out, in / 32, 16}, q.blocks()));
            packed.put(n + "_scales", new SafeTensorsFile.Raw("U8", new long[] {e, out, in / 32}, q.scales()));
            dense.put(n, f32(transposeLast2(q.decoded(), e, out, in), e, in, out));
            String layer = n.substring("model.layers.".length(), n.indexOf(".mlp"));
            decoded.put("layers." + layer + (gateUp ? ".experts.gate_up" : ".experts.down"), q.decoded());
        }
        assertEquals(2 * c.layerCount(), decoded.size());
        Path mx = tmp.resolve("mxfp4"), dn = tmp.resolve("dense");
        for (Path d : new Path[] {mx, dn}) {
            Files.createDirectories(d);
            Files.copy(random.resolve("config.json"), d.resolve("config.json"));
        }
        Fixtures.writeSafeTensors(mx.resolve("model.safetensors"), packed, Map.of("format", "pt"));
        Fixtures.writeSafeTensors(dn.resolve("model.safetensors"), dense, Map.of("format", "pt"));

        TokenBatch batch = TokenBatch.of(new int[] {1, 7, 3, 300, 42, 9, 0}, new int[] {5}, new int[] {11, 12, 13});
        float[] want;
        try (Transformer m = Transformer.load(dn, Device.cpu(), DType.F32)) {
            want = Fixtures.forward(m, batch, c.vocabSize());
        }
        Path saved = tmp.resolve("saved");
        try (Transformer m = Transformer.load(mx, Device.cpu(), null)) {
            assertEquals(DType.F32, m.dtype(), "dtype of the float tensors");
            for (Map.Entry<String, float[]> d : decoded.entrySet()) {
                assertArrayEquals(d.getValue(), m.weights().get(d.getKey()).toFloatArray(), d.getKey() + ": dequantized values");
            }
            assertArrayEquals(want, Fixtures.forward(m, batch, c.vocabSize()), "logits: MXFP4 vs the decoded values stored dense");
            m.save(saved);
        }
        try (Transformer m = Transformer.load(mx, Device.cpu(), DType.BF16)) {
            for (Map.Entry<String, float[]> d : decoded.entrySet()) {
                assertArrayEquals(d.getValue(), m.weights().get(d.getKey()).toFloatArray(), d.getKey() + ": dequantized into BF16");
            }
            assertEquals(DType.F32, m.weights().get("layers.0.sinks").dtype(), "sinks stay F32 in a BF16 model");
            assertEquals(DType.F32, m.weights().get("layers.0.router.bias").dtype(), "router bias stays F32 in a BF16 model");
        }

        // a save of the MXFP4-loaded model writes the dense tensors: the bytes of the dense checkpoint
        SafeTensorsFile out = new SafeTensorsFile(saved.resolve("model.safetensors"));
        assertEquals(new TreeSet<>(dense.keySet()), new TreeSet<>(out.tensors.keySet()), "saved tensor names");
        for (Map.Entry<String, SafeTensorsFile.Raw> t : dense.entrySet()) {
            assertArrayEquals(t.getValue().shape(), out.shape(t.getKey()), t.getKey() + ": shape");
            assertArrayEquals(t.getValue().data(), out.bytes(t.getKey()), t.getKey() + ": bytes");
        }
        assertFalse(out.tensors.keySet().stream().anyMatch(n -> n.endsWith("_blocks") || n.endsWith("_scales")), "no MXFP4 tensors saved");
    }

    @Test
    void mxfp4WithBadScalesNamesTheTensor() throws Exception {
        ModelConfig c = Architectures.of("gpt_oss").preset("tiny");
        int e = c.moe().experts(), h = c.hidden(), f = c.moe().expertFfn();
        Path random = tmp.resolve("random");
        Checkpoints.writeRandom(c, DType.F32, 3, random);
        Map<String, SafeTensorsFile.Raw> t = new LinkedHashMap<>(new SafeTensorsFile(random.resolve("model.safetensors")).all());
        String n = "model.layers.0.mlp.experts.down_proj";
        t.remove(n);
        t.put(n + "_blocks", new SafeTensorsFile.Raw("U8", new long[] {e, h, f / 32, 16}, new byte[e * h * f / 2]));
        t.put(n + "_scales", new SafeTensorsFile.Raw("U8", new long[] {e, h, f / 32 + 1}, new byte[e * h * (f / 32 + 1)]));
        Path d = tmp.resolve("bad");
        Files.createDirectories(d);
        Files.copy(random.resolve("config.json"), d.resolve("config.json"));
        Fixtures.writeSafeTensors(d.resolve("model.safetensors"), t, Map.of());
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> Transformer.load(d, Device.cpu(), null));
        assertTrue(x.getMessage().contains(n + "_scales"), x.getMessage());
    }
}
