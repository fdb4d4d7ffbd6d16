/* Staff passwords: libsodium's crypto_pwhash_str (Argon2id, a random salt and the cost
 * parameters inside the stored string), so a stolen table costs an attacker the same slow
 * hash per guess that it costs us per sign-in.
 *
 * Hashing is slow and memory-hungry on purpose (PASSWORD_MEMLIMIT_KIB, 64 MiB by default):
 * call these only from worker or task threads, never from the libevent loop thread. */
#ifndef CP_PASSWORD_H
#define CP_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define PASSWORD_MIN_LEN  10
#define PASSWORD_MAX_LEN  128

/* Starts libsodium; call once before any thread hashes. ops and mem_kib are the Argon2id
 * cost (libsodium's interactive limits are 2 and 65536); at most max_concurrent hashes run at
 * once (each holds mem_kib), the others wait their turn, so a burst of sign-ins cannot take
 * the process past its memory limit. Returns 0 or -1. */
int password_init(unsigned long long ops, size_t mem_kib, unsigned max_concurrent)
    __attribute__((warn_unused_result));

/* Writes the crypto_pwhash_str string of password into out[PASSWORD_HASH_MAX]. Returns 0,
 * or -1 when the machine cannot give the memory the cost asks for. */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
    __attribute__((warn_unused_result));

/* True when password matches hash. A NULL or malformed hash verifies against a fixed dummy
 * hash instead and returns false, so an unknown staff id takes as long as a wrong password. */
bool password_verify(const char *hash, const char *password);

/* True when hash was made with weaker cost parameters than the configured ones (rehash it at
 * the next successful sign-in). */
bool password_needs_rehash(const char *hash);

/* The password policy, pure: NULL when acceptable, else what is wrong (for a 422). */
const char *password_policy_problem(const char *password);

#endif
