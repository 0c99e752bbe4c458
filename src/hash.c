/* hash: FNV-1a 64-bit (see hash.h). Layer 0, libc only. */
#include "nnmpi/hash.h"

uint64_t nn_fnv1a64(const void *p, size_t n, uint64_t h) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}
