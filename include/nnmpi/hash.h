/* hash: FNV-1a 64-bit over bytes — the config digest of checkpoints and the replica checksum.
 * Layer 0, libc only. */
#ifndef NNMPI_HASH_H
#define NNMPI_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The standard FNV-1a 64 offset basis: checkpoints' config_digest (docs/formats.md). */
#define NN_FNV1A64_BASIS 14695981039346656037ull
/* Offset basis nnmpi used before issue 11 (one digit short of the standard): config_digest of
 * older checkpoints is accepted with it too, and the replica checksum keeps using it. */
#define NN_FNV1A64_LEGACY_BASIS 1469598103934665603ull

/* h folded with the n bytes at p: h = (h ^ byte) * 1099511628211 per byte. Start with a basis;
 * chaining calls hashes the concatenation. */
uint64_t nn_fnv1a64(const void *p, size_t n, uint64_t h);

#endif
