#pragma once
/// @file isa_clones.hpp
/// LINEAGE_ISA_CLONES before a function compiles it once per x86-64 level (v4: AVX-512, v3: AVX2,
/// the baseline), chosen at load time (GCC's target_clones). Code that must give the same bits on
/// every machine keeps to element-wise integer and exact float operations there, in files built
/// without contraction into fused multiply-adds (CMakeLists.txt). Elsewhere it is empty.

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LINEAGE_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LINEAGE_ISA_CLONES
#endif
