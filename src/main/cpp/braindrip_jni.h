// Header the JavaCPP-generated JNI glue includes. Plain C declarations only: no CUDA headers,
// streams as void*, so plain g++ compiles the glue on any machine.
#pragma once
#include "braindrip/common.h"
#include "braindrip/ops.h"
#include "braindrip/moe.h"
#include "braindrip/attention.h"
#include "braindrip/diff_attention.h"
#include "braindrip/sample.h"
#include "braindrip/cpu_runtime.h"
#include "braindrip/cpu_gemm.h"
#include "braindrip/cuda_runtime_api.h"
