/* test_utf8case.c: UTF-8 case mapping (util/utf8case.c). */
#include "test.h"

#include "buf.h"
#include "utf8case.h"

/* Maps in[0..inlen) and compares with want[0..wantlen) byte for byte. */
static void check(const char *in, size_t inlen, int upper, const char *want, size_t wantlen,
                  int line) {
  struct wp_buf b = WP_BUF_INIT;
  if (wp_utf8_case(in, inlen, upper, &b) != 0) TEST_FAIL("line %d: error", line);
  if (b.len != wantlen || (wantlen && memcmp(b.data, want, wantlen) != 0)) {
    fprintf(stderr, "line %d: got %zu bytes:", line, b.len);
    for (size_t i = 0; i < b.len; i++) fprintf(stderr, " %02x", b.data[i]);
    fputc('\n', stderr);
    TEST_FAIL("%s(\"%s\") != \"%s\"", upper ? "upper" : "lower", in, want);
  }
  wp_buf_free(&b);
}

/* String literals, which may hold NULs: lengths come from sizeof. */
#define UP(in, want) check(in, sizeof(in) - 1, 1, want, sizeof(want) - 1, __LINE__)
#define LO(in, want) check(in, sizeof(in) - 1, 0, want, sizeof(want) - 1, __LINE__)

TEST(ascii) {
  UP("hello, World 123!", "HELLO, WORLD 123!");
  LO("hello, World 123!", "hello, world 123!");
  UP("", "");
  LO("", "");
  UP("a\0b", "A\0B");
  char in[128], up[128], lo[128];
  for (int i = 0; i < 128; i++) {
    in[i] = (char)i;
    up[i] = (char)(i >= 'a' && i <= 'z' ? i - 32 : i);
    lo[i] = (char)(i >= 'A' && i <= 'Z' ? i + 32 : i);
  }
  check(in, 128, 1, up, 128, __LINE__);
  check(in, 128, 0, lo, 128, __LINE__);
  return 0;
}

TEST(latin1) {
  UP("sch\xC3\xB6n", "SCH\xC3\x96N");                   /* schön -> SCHÖN */
  LO("SCH\xC3\x96N", "sch\xC3\xB6n");
  LO("\xC3\x84\xC3\x96\xC3\x9C", "\xC3\xA4\xC3\xB6\xC3\xBC"); /* ÄÖÜ -> äöü */
  UP("\xC3\xA4\xC3\xB6\xC3\xBC", "\xC3\x84\xC3\x96\xC3\x9C");
  UP("stra\xC3\x9F" "e", "STRA\xC3\x9F" "E");           /* straße keeps ß */
  LO("STRA\xC3\x9F" "E", "stra\xC3\x9F" "e");
  UP("\xC3\xBF", "\xC5\xB8");                           /* ÿ -> Ÿ (U+0178) */
  UP("\xC2\xB5", "\xCE\x9C");                           /* µ -> Greek Μ */
  UP("\xC3\xA7\xC3\xA9\xC3\xB1", "\xC3\x87\xC3\x89\xC3\x91"); /* çéñ */
  UP("\xC3\xB7\xC3\x97", "\xC3\xB7\xC3\x97");           /* ÷ × unchanged */
  return 0;
}

TEST(latin_extended) {
  UP("\xC5\x82\xC3\xB3" "d\xC5\xBA", "\xC5\x81\xC3\x93" "D\xC5\xB9"); /* łódź */
  LO("\xC4\x8C\xC5\x98", "\xC4\x8D\xC5\x99");                      /* ČŘ */
  UP("\xC4\xB1", "I");            /* dotless ı -> I: shorter */
  LO("\xC4\xB0", "i");            /* İ -> i (simple mapping) */
  UP("\xC5\xBF", "S");            /* long s */
  UP("\xC7\x85", "\xC7\x84");     /* ǅ -> Ǆ */
  LO("\xC7\x85", "\xC7\x86");     /* ǅ -> ǆ */
  LO("\xC8\xBA", "\xE2\xB1\xA5"); /* Ⱥ -> ⱥ (U+2C65): longer */
  UP("\xC9\x90", "\xE2\xB1\xAF"); /* ɐ -> Ɐ (U+2C6F) */
  UP("\xC5\x89", "\xC5\x89");     /* ŉ has no one-letter capital */
  UP("\xC7\xB0", "\xC7\xB0");     /* ǰ likewise */
  return 0;
}

TEST(greek) {
  /* αβγ δέλτα -> ΑΒΓ ΔΈΛΤΑ */
  UP("\xCE\xB1\xCE\xB2\xCE\xB3 \xCE\xB4\xCE\xAD\xCE\xBB\xCF\x84\xCE\xB1",
     "\xCE\x91\xCE\x92\xCE\x93 \xCE\x94\xCE\x88\xCE\x9B\xCE\xA4\xCE\x91");
  /* ΟΔΥΣΣΕΥΣ -> οδυσσευσ: no final-sigma rule, as in Go */
  LO("\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3\xCE\xA3\xCE\x95\xCE\xA5\xCE\xA3",
     "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x83");
  UP("\xCF\x82", "\xCE\xA3");     /* ς -> Σ */
  UP("\xCE\x90", "\xCE\x90");     /* ΐ stays */
  LO("\xCF\xB4", "\xCE\xB8");     /* ϴ -> θ */
  UP("\xCF\x91", "\xCE\x98");     /* ϑ -> Θ */
  UP("\xE1\xBE\x80", "\xE1\xBE\x88"); /* ᾀ -> ᾈ (Greek Extended) */
  return 0;
}

TEST(cyrillic_armenian) {
  /* привет мир -> ПРИВЕТ МИР */
  UP("\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80",
     "\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2 \xD0\x9C\xD0\x98\xD0\xA0");
  /* ЁЖИК -> ёжик */
  LO("\xD0\x81\xD0\x96\xD0\x98\xD0\x9A", "\xD1\x91\xD0\xB6\xD0\xB8\xD0\xBA");
  UP("\xD2\x91", "\xD2\x90");     /* ґ -> Ґ */
  LO("\xD3\x80", "\xD3\x8F");     /* Ӏ -> ӏ */
  UP("\xD4\xAF", "\xD4\xAE");     /* ԯ -> Ԯ (Cyrillic Supplement) */
  /* բարեւ -> ԲԱՐԵՒ */
  UP("\xD5\xA2\xD5\xA1\xD6\x80\xD5\xA5\xD6\x82",
     "\xD4\xB2\xD4\xB1\xD5\x90\xD4\xB5\xD5\x92");
  UP("\xD6\x87", "\xD6\x87");     /* և has no one-letter capital */
  return 0;
}

TEST(latin_extended_additional_and_beyond) {
  LO("\xE1\xBA\x9E", "\xC3\x9F");         /* ẞ -> ß */
  UP("\xE1\xBB\xB3", "\xE1\xBB\xB2");     /* ỳ -> Ỳ */
  UP("\xE1\xBA\x9B", "\xE1\xB9\xA0");     /* ẛ -> Ṡ */
  UP("\xE1\xBA\x96", "\xE1\xBA\x96");     /* ẖ stays */
  LO("\xE2\x84\xAA", "k");                /* Kelvin sign -> k */
  UP("\xF0\x90\x90\xA8", "\xF0\x90\x90\x80"); /* Deseret: four bytes */
  UP("\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD\xE6\x96\x87"); /* 中文 */
  return 0;
}

/* Bytes that are not valid UTF-8 are copied unchanged, never rejected. */
TEST(invalid_bytes_pass_through) {
  UP("a\xFF" "b\xC3", "A\xFF" "B\xC3");         /* stray and truncated */
  UP("\xC3x", "\xC3X");                        /* lead byte without tail */
  UP("\xC0\xAF" "a", "\xC0\xAF" "A");           /* overlong '/' */
  UP("\xE0\x80\xAF", "\xE0\x80\xAF");           /* overlong, 3 bytes */
  UP("\xED\xA0\x80" "z", "\xED\xA0\x80" "Z");   /* surrogate */
  UP("\xF4\x90\x80\x80", "\xF4\x90\x80\x80");   /* past U+10FFFF */
  UP("\xE2\x82", "\xE2\x82");                   /* truncated at the end */
  UP("\x80\xBF\xC3\xB6", "\x80\xBF\xC3\x96");   /* lone continuations, then ö */
  UP("\xC3\xC3\xB6", "\xC3\xC3\x96");           /* bad lead, then a valid ö */
  LO("\xF8\x88\x80\x80\x80" "A", "\xF8\x88\x80\x80\x80" "a");
  return 0;
}

/* Output is appended to what the buffer holds; long inputs grow it. */
TEST(appends_and_grows) {
  struct wp_buf b = WP_BUF_INIT;
  ASSERT_EQ(wp_buf_append(&b, "pre:", 4), 0);
  ASSERT_EQ(wp_utf8_case("abc", 3, 1, &b), 0);
  ASSERT_EQ(b.len, 7);
  ASSERT(memcmp(b.data, "pre:ABC", 7) == 0);
  wp_buf_free(&b);
  /* 10,000 x "ɐ" (2 bytes) -> "Ɐ" (3 bytes): the output outgrows the input */
  enum { N = 10000 };
  static char in[2 * N], want[3 * N];
  for (int i = 0; i < N; i++) {
    memcpy(in + 2 * i, "\xC9\x90", 2);
    memcpy(want + 3 * i, "\xE2\xB1\xAF", 3);
  }
  ASSERT_EQ(wp_utf8_case(in, sizeof in, 1, &b), 0);
  ASSERT_EQ(b.len, sizeof want);
  ASSERT(memcmp(b.data, want, sizeof want) == 0);
  wp_buf_free(&b);
  return 0;
}

/* {====================================================================
** Every code point: a well-formed single code point comes out, and
** mapping twice changes nothing more.
** ===================================================================== */

static size_t enc(uint32_t cp, char *p) {
  if (cp < 0x80) {
    p[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    p[0] = (char)(0xC0 | (cp >> 6));
    p[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    p[0] = (char)(0xE0 | (cp >> 12));
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  p[0] = (char)(0xF0 | (cp >> 18));
  p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  p[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the UTF-8 sequence that the lead byte announces. */
static size_t seq_len(uint8_t c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

TEST(every_code_point) {
  struct wp_buf once = WP_BUF_INIT, twice = WP_BUF_INIT;
  size_t changed[2] = {0, 0};
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    char in[4];
    size_t n = enc(cp, in);
    for (int upper = 0; upper <= 1; upper++) {
      once.len = twice.len = 0;
      ASSERT_EQ(wp_utf8_case(in, n, upper, &once), 0);
      ASSERT(once.len >= 1 && once.len <= 4);
      ASSERT_EQ(seq_len(once.data[0]), once.len); /* exactly one code point */
      ASSERT_EQ(wp_utf8_case((const char *)once.data, once.len, upper, &twice), 0);
      if (twice.len != once.len || memcmp(once.data, twice.data, once.len) != 0)
        TEST_FAIL("U+%04X: %s mapping is not idempotent", cp, upper ? "upper" : "lower");
      changed[upper] += once.len != n || memcmp(once.data, in, n) != 0;
    }
  }
  /* Unicode 14 and 15 (Debian 12's libutf8proc) have 1433 simple lowercase
  ** and 1450 uppercase mappings */
  ASSERT_EQ(changed[0], 1433);
  ASSERT_EQ(changed[1], 1450);
  wp_buf_free(&once);
  wp_buf_free(&twice);
  return 0;
}

/* }==================================================================== */

TEST_LIST = {
  TEST_ENTRY(ascii),
  TEST_ENTRY(latin1),
  TEST_ENTRY(latin_extended),
  TEST_ENTRY(greek),
  TEST_ENTRY(cyrillic_armenian),
  TEST_ENTRY(latin_extended_additional_and_beyond),
  TEST_ENTRY(invalid_bytes_pass_through),
  TEST_ENTRY(appends_and_grows),
  TEST_ENTRY(every_code_point),
  TEST_END
};
