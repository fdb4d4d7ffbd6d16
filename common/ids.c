#include "ids.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ids_random(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) == 1)
		return;
	FILE *f = fopen("/dev/urandom", "rb");
	size_t got = f ? fread(buf, 1, n, f) : 0;
	if (f)
		fclose(f);
	if (got == n)
		return;
	/* Identifiers, tokens and public codes are only as good as this: an id filled with a
	 * constant would make every event collide, so a machine without randomness must stop. */
	fputs("{\"level\":\"fatal\",\"event\":\"no_randomness\",\"msg\":\"neither the OpenSSL "
	      "generator nor /dev/urandom gave random bytes\"}\n",
	      stderr);
	abort();
}

/* No 0/O, 1/I/L: a code read out on the phone is not misheard. */
static const char ids_code_alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
#define IDS_CODE_SYMBOLS (sizeof(ids_code_alphabet) - 1)
/* Bytes at or above the largest multiple of the alphabet's size are drawn again, so every
 * symbol is equally likely (a plain modulo would favour the first ones). */
#define IDS_CODE_LIMIT (256 - 256 % IDS_CODE_SYMBOLS)

void ids_public_code(char *out, size_t nchars)
{
	unsigned char b[64];
	size_t n = nchars < 64 ? nchars : 64, i = 0, used = sizeof(b);
	while (i < n) {
		if (used == sizeof(b)) {
			ids_random(b, sizeof(b));
			used = 0;
		}
		unsigned char v = b[used++];
		if (v < IDS_CODE_LIMIT)
			out[i++] = ids_code_alphabet[v % IDS_CODE_SYMBOLS];
	}
	out[n] = '\0';
}

void ids_uuid(char out[IDS_UUID_LEN])
{
	unsigned char b[16];
	ids_random(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, IDS_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

int ids_hmac_hex(const char *key, const void *msg, size_t len, char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), msg, len, mac, &maclen))
		return -1;
	for (unsigned int i = 0; i < maclen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[64] = '\0';
	return 0;
}

int ids_customer_ref(const char *key, const char *phone, char out[30])
{
	char digits[64], hex[65];
	size_t n = 0;
	for (const char *p = phone; *p && n + 1 < sizeof(digits); p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	digits[n] = '\0';
	if (ids_hmac_hex(key, digits, n, hex) != 0)
		return -1;
	snprintf(out, 30, "cust_%.24s", hex);
	return 0;
}

int ids_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}

bool ids_customer_ref_valid(const char *s)
{
	if (!s || strncmp(s, "cust_", 5) != 0 || strlen(s) != 5 + 24)
		return false;
	for (const char *p = s + 5; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool ids_is_uuid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}
