package dev.braindrip.jni;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * Hands the SGEMM of the OpenBLAS that the JavaCPP preset loads (the one {@code CpuGemm} calls) to
 * libbraindrip_cpu, whose MoE grouped expert GEMMs (F32) then run each expert's gate/up and down as
 * one SGEMM over its rows instead of the library's own blocked kernel (docs/perf/moe-cpu.md: 2.2×
 * faster at 4096 tokens, level with the per-expert loop). {@code -Dbraindrip.cpu.vendorSgemm=false} keeps the own kernel (for
 * comparisons); so does a failure to find the symbol, which is reported once on stderr.
 */
public final class CpuBlas {
    /** System property: {@code false} leaves the MoE GEMMs on the library's own kernel. */
    public static final String PROPERTY = "braindrip.cpu.vendorSgemm";

    private static boolean done;

    private CpuBlas() {}

    /** Registers cblas_sgemm once per process (idempotent); returns whether one is registered. */
    public static synchronized boolean registerSgemm() {
        if (!done) {
            done = true;
            if (Boolean.parseBoolean(System.getProperty(PROPERTY, "true"))) {
                try {
                    Loader.load(openblas_nolapack.class);
                    org.bytedeco.javacpp.Pointer p = Loader.addressof("cblas_sgemm");
                    long fn = p == null ? 0 : p.address();
                    if (fn != 0) NativeCpu.bd_cpu_set_sgemm(fn);
                    else System.err.println("braindrip: cblas_sgemm not found in the loaded OpenBLAS; MoE GEMMs use the own kernel");
                } catch (UnsatisfiedLinkError | RuntimeException e) {
                    System.err.println("braindrip: OpenBLAS not loadable (" + e.getMessage() + "); MoE GEMMs use the own kernel");
                }
            }
        }
        return NativeCpu.bd_cpu_has_sgemm() != 0;
    }
}
