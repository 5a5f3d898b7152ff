/*
 * Base64 in C (see base64.h): the vector steps check and translate 32 characters at once, and
 * encode 24 bytes at once, with the lookups of the WebAssembly codec widened to AVX2's two lanes.
 */
#include "base64.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#endif

/* The six bits of a character, or -1 when it is not in the alphabet. */
static int sextet(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static uint8_t char_of(unsigned s) {
  if (s < 26) return (uint8_t)('A' + s);
  if (s < 52) return (uint8_t)('a' + s - 26);
  if (s < 62) return (uint8_t)('0' + s - 52);
  return s == 62 ? '+' : '/';
}

/* Decodes whole quanta from text[i] on, the last of them padded or not; false on a bad one. */
static bool decode_tail(const uint8_t *text, size_t i, size_t n, uint8_t *o) {
  for (; i < n; i += 4) {
    const bool last = i + 4 == n;
    const int a = sextet(text[i]), b = sextet(text[i + 1]);
    if (a < 0 || b < 0) return false;
    *o++ = (uint8_t)(a << 2 | b >> 4);
    if (last && text[i + 2] == '=' && text[i + 3] == '=') break; /* "xx==" */
    const int c = sextet(text[i + 2]);
    if (c < 0) return false;
    *o++ = (uint8_t)((b & 15) << 4 | c >> 2);
    if (last && text[i + 3] == '=') break; /* "xxx=" */
    const int d = sextet(text[i + 3]);
    if (d < 0) return false;
    *o++ = (uint8_t)((c & 3) << 6 | d);
  }
  return true;
}

#if defined(__x86_64__)
/*
 * 32 characters to their 24 bytes at `o`, exactly; lanes of *errors become non-zero for any
 * character outside the alphabet ('=' included: padding is the tail's).
 */
AVX2 static inline void decode32(const uint8_t *text, uint8_t *o, __m256i *errors) {
  /* Per low nibble, the classes of characters that are not in the alphabet; per high nibble,
     its class: a character is valid when its two lookups share no bit. */
  const __m256i lut_lo = _mm256_setr_epi8(
      0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b,
      0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b,
      0x1b, 0x1a);
  const __m256i lut_hi = _mm256_setr_epi8(
      0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10);
  /* Per high nibble (one less for '/'), what to add to a character to get its six bits. */
  const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0,
                                            0, 0, 0, 0);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i c = _mm256_loadu_si256((const __m256i *)text);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble);
  const __m256i lo = _mm256_and_si256(c, nibble);
  *errors = _mm256_or_si256(
      *errors, _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo), _mm256_shuffle_epi8(lut_hi, hi)));
  const __m256i slash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8(0x2f));
  const __m256i sixes =
      _mm256_add_epi8(c, _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(hi, slash)));
  /* Pairs of sixes to twelve bits (a·64 + b), pairs of those to 24 bits, per 32-bit lane. */
  const __m256i twelves = _mm256_maddubs_epi16(sixes, _mm256_set1_epi32(0x01400140));
  const __m256i words = _mm256_madd_epi16(twelves, _mm256_set1_epi32(0x00011000));
  /* Each lane holds three bytes, least significant first; base64 puts the most first. */
  const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                         2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, order),
                                                     _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(packed));
  _mm_storel_epi64((__m128i *)(o + 16), _mm256_extracti128_si256(packed, 1));
}

/* Whole blocks of 32 characters up to the last quantum; false at a character not of base64. */
AVX2 static bool decode_blocks(const uint8_t *text, size_t n, uint8_t *out, size_t *done) {
  __m256i errors = _mm256_setzero_si256();
  size_t i = 0, o = 0;
  /* The last quantum, which may be padded, is the tail's. */
  for (; i + 32 + 4 <= n; i += 32, o += 24) decode32(text + i, out + o, &errors);
  *done = i;
  return _mm256_testz_si256(errors, errors);
}

/* 24 bytes to their 32 characters at `text`; reads 28 bytes (4 past the 24). */
AVX2 static inline void encode24(const uint8_t *bytes, uint8_t *text) {
  const __m256i in = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)bytes)),
      _mm_loadu_si128((const __m128i *)(bytes + 12)), 1);
  /* Each 32-bit lane takes three bytes, most significant first: v = a·2¹⁶ + b·2⁸ + c. */
  const __m256i v = _mm256_shuffle_epi8(
      in, _mm256_setr_epi8(2, 1, 0, 0, 5, 4, 3, 3, 8, 7, 6, 6, 11, 10, 9, 9, 2, 1, 0, 0, 5, 4, 3, 3,
                           8, 7, 6, 6, 11, 10, 9, 9));
  /* Its four sextets, most significant first, into its four bytes. */
  const __m256i sixes = _mm256_or_si256(
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v, 18), _mm256_set1_epi32(0x3f)),
                      _mm256_and_si256(_mm256_srli_epi32(v, 4), _mm256_set1_epi32(0x3f00))),
      _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(v, 10), _mm256_set1_epi32(0x3f0000)),
                      _mm256_and_si256(_mm256_slli_epi32(v, 24), _mm256_set1_epi32(0x3f000000))));
  /* Classes 0-25 → 13, 26-51 → 0, 52-61 → 1-10, 62 → 11, 63 → 12, and what each adds. */
  const __m256i shift = _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65,
                                         0, 0, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19,
                                         -16, 65, 0, 0);
  const __m256i upper =
      _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), sixes), _mm256_set1_epi8(13));
  const __m256i classes = _mm256_or_si256(_mm256_subs_epu8(sixes, _mm256_set1_epi8(51)), upper);
  _mm256_storeu_si256((__m256i *)text,
                      _mm256_add_epi8(sixes, _mm256_shuffle_epi8(shift, classes)));
}

/* Whole blocks of 24 bytes while 28 can be read; the bytes done. */
AVX2 static size_t encode_blocks(const uint8_t *bytes, size_t n, uint8_t *text) {
  size_t i = 0, o = 0;
  for (; i + 28 <= n; i += 24, o += 32) encode24(bytes + i, text + o);
  return i;
}
#endif

bool base64_decode(const uint8_t *text, size_t n, uint8_t *out, size_t length) {
  if (n % 4 != 0) return false;
  const size_t padding = n == 0 || text[n - 1] != '=' ? 0 : text[n - 2] != '=' ? 1 : 2;
  if ((n == 0 ? 0 : n / 4 * 3 - padding) != length) return false;
  size_t i = 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && !decode_blocks(text, n, out, &i)) return false;
#endif
  return decode_tail(text, i, n, out + i / 4 * 3);
}

size_t base64_encoded_length(size_t n) { return (n + 2) / 3 * 4; }

void base64_encode(const uint8_t *bytes, size_t n, uint8_t *text) {
  size_t i = 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) i = encode_blocks(bytes, n, text);
#endif
  uint8_t *o = text + i / 3 * 4;
  for (; i + 3 <= n; i += 3, o += 4) {
    const unsigned v = (unsigned)bytes[i] << 16 | (unsigned)bytes[i + 1] << 8 | bytes[i + 2];
    o[0] = char_of(v >> 18);
    o[1] = char_of(v >> 12 & 63);
    o[2] = char_of(v >> 6 & 63);
    o[3] = char_of(v & 63);
  }
  if (i < n) {
    const unsigned a = bytes[i], b = i + 1 < n ? bytes[i + 1] : 0;
    o[0] = char_of(a >> 2);
    o[1] = char_of((a & 3) << 4 | b >> 4);
    o[2] = i + 1 < n ? char_of((b & 15) << 2) : '=';
    o[3] = '=';
  }
}
