/* Normalisation of a complaint's free text before anything reads it (the keyword table, the
 * trained model, the urgency cues), so that one spelling of a thing is learned and matched
 * instead of four:
 *
 *   textnorm_t2s     traditional -> simplified Chinese (OpenCC, the t2s configuration), so
 *                    「物流幾天沒更新」 reads as 「物流几天没更新」;
 *   textnorm_fold    full-width -> half-width (ＡＢＣ１２３ -> abc123), CJK punctuation -> ASCII,
 *                    ASCII case folding;
 *   textnorm_tokens  the model's input: one token per CJK character, ASCII words, numbers
 *                    masked as <num>, waybill and phone numbers as <id>, and the negation and
 *                    contrast marks of negation.h as token prefixes.
 *
 * fold and tokens are pure; t2s needs the OpenCC dictionaries (struct textnorm). Training
 * (cp-textmodel prep) and the service call the same functions, so what the model learned is
 * what it is shown. */
#ifndef CP_TEXTNORM_H
#define CP_TEXTNORM_H

#include <stdbool.h>
#include <stddef.h>

/* The longest text any reader looks at; longer descriptions are cut (intake caps them well
 * below this). */
#define TEXTNORM_MAX 8192

struct textnorm;

/* Opens the OpenCC converter named by config ("t2s.json": the file name is looked up in
 * OpenCC's data directory, or a path). NULL on failure with the reason in errstr. */
struct textnorm *textnorm_new(const char *config, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));
/* Accepts NULL. */
void textnorm_free(struct textnorm *n);

/* Converts in to simplified Chinese into out[cap] (always NUL-terminated). When n is NULL or
 * OpenCC fails, copies in unchanged and returns -1; 0 otherwise. Thread-safe. */
int textnorm_t2s(struct textnorm *n, const char *in, char *out, size_t cap)
    __attribute__((warn_unused_result));

/* Pure: full-width forms (U+FF01..U+FF5E) and the ideographic space to ASCII, common CJK
 * punctuation to its ASCII counterpart, ASCII letters to lowercase, control characters to
 * spaces. out[cap] always NUL-terminated; a multi-byte character is never cut in half. */
void textnorm_fold(const char *in, char *out, size_t cap);

/* t2s (when n is not NULL) then fold: the text every reader looks at. */
void textnorm_text(struct textnorm *n, const char *in, char *out, size_t cap);

/* Pure: the model's input for a folded text, tokens separated by single spaces. Digit runs
 * become <num>; runs of 10 or more digits, letter+digit codes with 8 or more digits
 * (SF1234567890) and intake's "[phone]" become <id>; "[name]" becomes <name>. Tokens in the
 * scope of a negator are prefixed "^", tokens in a clause a later contrast overrides "~"
 * (negation.h). Clause punctuation other than ! and ? is dropped. */
void textnorm_tokens(const char *folded, char *out, size_t cap);

/* Pure: the length in bytes of the UTF-8 character at s (1 for an invalid byte), and its code
 * point in *cp. */
size_t textnorm_utf8(const char *s, unsigned *cp);

#endif
