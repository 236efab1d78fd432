// Instance file: the MoE expert GEMMs (moe_gemm.cuh) for __nv_bfloat16 storage. One file per dtype keeps
// each nvcc job small (the kernels of one dtype compile in parallel with the others).
#include "moe_gemm.cuh"

namespace bd::cuda::moe {

template int launch_grouped<__nv_bfloat16>(const GemmArgs&, bool, bool, cudaStream_t);
template int launch_decode<__nv_bfloat16>(const GemmArgs&, bool, cudaStream_t);

}  // namespace bd::cuda::moe
