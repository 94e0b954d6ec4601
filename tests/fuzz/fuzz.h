/* Every fuzz target defines this (libFuzzer's entry point). */
#ifndef APX_TESTS_FUZZ_H
#define APX_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
