/* Redaction of personal data in free text before it leaves the service that owns it (events,
 * logs, notifications): phone-like digit runs (seven or more digits, spaces, dashes and a
 * leading + allowed between them) and every occurrence of a known name. */
#ifndef CP_REDACT_H
#define CP_REDACT_H

#include <stddef.h>

/* Copies text to out[cap] (always NUL-terminated, cut at cap) with each phone-like run replaced
 * by phone_mark and each occurrence of name (when it has two or more bytes) by "[name]". */
void redact_text(const char *text, const char *name, const char *phone_mark, char *out, size_t cap);

#endif
