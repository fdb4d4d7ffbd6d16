/* cp-admin's pure parts, callable from unit tests. */
#ifndef CP_ADMIN_H
#define CP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#define ADMIN_SHA256_HEX 65

/* The lowercase hex SHA-256 of len bytes of data (64 characters and a NUL). */
void admin_sha256_hex(const void *data, size_t len, char out[ADMIN_SHA256_HEX]);

enum admin_migration_state {
	ADMIN_MIGRATION_NEW,	   /* not applied yet: apply and record its checksum */
	ADMIN_MIGRATION_UNCHANGED, /* applied, same content: skip */
	ADMIN_MIGRATION_BACKFILL,  /* applied before checksums existed: record the current one */
	ADMIN_MIGRATION_CHANGED,   /* applied, content edited since: refuse to go on */
};

/* What to do with a migration file: applied tells whether schema_migrations holds its name,
 * stored is its recorded checksum (NULL or "" when none was recorded), current the file's. */
enum admin_migration_state admin_migration_check(bool applied, const char *stored,
						 const char *current);

/* `cp-admin pseudonyms rekey` (rekey.c): every stored customer_ref made with a key in
 * PSEUDONYM_KEY_PREVIOUS is rewritten to the one PSEUDONYM_KEY makes, in every schema, in one
 * transaction. Returns the exit status. */
int admin_pseudonyms_rekey(const char *admin_url);

/* `cp-admin dlq list|replay ...` (dlq.c): argv starts at "list" or "replay". Returns the exit
 * status. */
int admin_dlq(const char *bootstrap, int argc, char **argv);

#endif
