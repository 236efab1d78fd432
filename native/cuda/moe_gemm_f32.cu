// Instance file: the MoE expert GEMMs (moe_gemm.cuh) for float storage. One file per dtype keeps
// each nvcc job small (the kernels of one dtype compile in parallel with the others).
#include "moe_gemm.cuh"

namespace bd::cuda::moe {

template int launch_grouped<float>(const GemmArgs&, bool, bool, cudaStream_t);
template int launch_decode<float>(const GemmArgs&, bool, cudaStream_t);

}  // namespace bd::cuda::moe
