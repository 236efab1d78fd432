package dev.braindrip.testing;

import dev.braindrip.tensor.CudaRuntime;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Enables GPU tests only with a usable GPU; under -Dbraindrip.requireGpu=true a missing GPU is an error. */
public final class GpuCondition implements ExecutionCondition {
    public static boolean gpuRequired() {
        return Boolean.getBoolean("braindrip.requireGpu");
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        CudaRuntime.Probe p = CudaRuntime.probe();
        if (p.usable()) return ConditionEvaluationResult.enabled("CUDA usable: " + p.deviceCount() + " device(s)");
        if (gpuRequired()) {
            throw new IllegalStateException("GPU required (-Dbraindrip.requireGpu=true) but not usable: " + p.reason());
        }
        String reason = "skipped, no usable GPU: " + p.reason();
        System.out.println("[gpu] " + context.getDisplayName() + " " + reason);
        return ConditionEvaluationResult.disabled(reason);
    }
}
