/*
 * Base64 (RFC 4648, padded) between byte arrays anywhere in memory: request text decoded straight
 * into a tensor's values on the JS heap, and values encoded straight into an answer's text. The
 * algorithm of src/wire/assembly/base64.ts (Muła and Lemire, 2018), 32 characters a step with
 * AVX2, and a scalar loop without it and for the tails.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the n characters at `text` into out[0, length): true when they are padded base64 that
 * decodes to exactly `length` bytes. Writes nothing when the length and padding say otherwise,
 * and never past `length`; after false, out holds no meaning.
 */
bool base64_decode(const uint8_t *text, size_t n, uint8_t *out, size_t length);

/* The characters padded base64 of n bytes takes: 4·⌈n/3⌉. */
size_t base64_encoded_length(size_t n);

/* Encodes the n bytes at `bytes` as padded base64 at `text`, exactly base64_encoded_length(n). */
void base64_encode(const uint8_t *bytes, size_t n, uint8_t *text);

#endif
