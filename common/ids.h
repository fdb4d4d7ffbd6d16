/* Identifiers: random UUIDs for events and rows, keyed pseudonyms for personal data. */
#ifndef CP_IDS_H
#define CP_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define IDS_UUID_LEN 37 /* 36 characters and the NUL */

/* Fills buf with n cryptographically random bytes; aborts when the machine has none (every
 * identifier would collide). */
void ids_random(void *buf, size_t n);

/* A random code of nchars (at most 64) unambiguous capitals and digits (no 0, O, 1, I, L):
 * public identifiers that reveal no volume and cannot be walked. out holds nchars + 1. */
void ids_public_code(char *out, size_t nchars);

/* Writes a random (version 4) UUID into out[IDS_UUID_LEN]. */
void ids_uuid(char out[IDS_UUID_LEN]);

/* out[65] = lowercase hex HMAC-SHA256(key, msg). Returns 0 or -1. */
int ids_hmac_hex(const char *key, const void *msg, size_t len, char out[65]);

/* A pseudonymous customer reference: "cust_" and the first 24 hex digits of the HMAC of the
 * normalised phone number. Stable for the same key and phone; reveals nothing of it.
 * out must hold 30 bytes. */
int ids_customer_ref(const char *key, const char *phone, char out[30]);

/* True when s is a UUID in its canonical 8-4-4-4-12 hex form. */
bool ids_is_uuid(const char *s);

/* The shape of a customer_ref as ids_customer_ref makes it: "cust_" and 24 lowercase hex
 * digits. A field that must carry a pseudonym refuses anything else (a phone number above
 * all). */
bool ids_customer_ref_valid(const char *s);

/* Constant-time comparison of two NUL-terminated strings. */
int ids_equal(const char *a, const char *b);

#endif
