#include "password.h"

#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static unsigned long long password_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t password_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
/* Verified instead of a missing hash: an unknown staff id must cost what a wrong password
 * costs, or the timing would tell which ids exist. */
static char password_dummy[PASSWORD_HASH_MAX];
static sem_t password_slots;
static bool password_slots_ready;

int password_init(unsigned long long ops, size_t mem_kib, unsigned max_concurrent)
{
	unsigned char noise[16];
	char pw[33];
	if (sodium_init() < 0 || max_concurrent == 0)
		return -1;
	if (password_slots_ready)
		sem_destroy(&password_slots);
	if (sem_init(&password_slots, 0, max_concurrent) != 0)
		return -1;
	password_slots_ready = true;
	password_ops = ops;
	password_mem = mem_kib * 1024;
	if (password_ops < crypto_pwhash_OPSLIMIT_MIN || password_mem < crypto_pwhash_MEMLIMIT_MIN)
		return -1;
	randombytes_buf(noise, sizeof(noise));
	sodium_bin2hex(pw, sizeof(pw), noise, sizeof(noise));
	return password_hash(pw, password_dummy);
}

static void password_slot_take(void)
{
	while (sem_wait(&password_slots) != 0)
		; /* EINTR: a signal arrived; keep waiting */
}

int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
{
	password_slot_take();
	int rc = crypto_pwhash_str(out, password, strlen(password), password_ops, password_mem);
	sem_post(&password_slots);
	return rc == 0 ? 0 : -1;
}

bool password_verify(const char *hash, const char *password)
{
	bool known = hash && strncmp(hash, "$argon2", 7) == 0;
	const char *h = known ? hash : password_dummy;
	/* always run the slow verification, then decide: an early return would be the oracle */
	password_slot_take();
	bool ok = crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
	sem_post(&password_slots);
	return ok && known;
}

bool password_needs_rehash(const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, password_ops, password_mem) != 0;
}

const char *password_policy_problem(const char *password)
{
	size_t bytes = strlen(password), chars = 0;
	/* characters, not bytes: a Chinese pass phrase of ten characters is as long as ten
	 * letters to the person who types it; the body was checked to be valid UTF-8 */
	for (size_t i = 0; i < bytes; i++)
		chars += ((unsigned char)password[i] & 0xC0) != 0x80;
	if (chars < PASSWORD_MIN_LEN)
		return "must be at least 10 characters";
	if (bytes > PASSWORD_MAX_LEN)
		return "must be at most 128 bytes";
	return NULL;
}
