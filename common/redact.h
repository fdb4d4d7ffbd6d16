/* Redaction of personal data in free text before it leaves the service that owns it (events,
 * logs, notifications): phone-like digit runs and every occurrence of a known name.
 *
 * Matching reads the text as NFKC would (utf8proc): full-width digits and signs (１３８…),
 * the ideographic space and other compatibility forms count as their ASCII selves, and the
 * Chinese numerals (一二三…, 零, 〇, 幺) count as digits. A run is an optional '+' and digit
 * groups with seven or more digits in all, the groups separated by up to three spaces,
 * dashes, dots, brackets or slashes (any width) or Chinese characters (138.0013.8000,
 * 138 转 0013 转 8000); a dot or a Chinese character only joins groups of three or more digits,
 * so dates and amounts stay. The rest of the text is copied as it was (not normalised). */
#ifndef CP_REDACT_H
#define CP_REDACT_H

#include <stddef.h>

/* Copies text to out[cap] (always NUL-terminated, cut at cap) with each phone-like run replaced
 * by phone_mark and each occurrence of name (when it has two or more bytes) by "[name]". */
void redact_text(const char *text, const char *name, const char *phone_mark, char *out, size_t cap);

#endif
