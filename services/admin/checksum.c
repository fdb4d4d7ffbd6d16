/* Migration checksums: an applied migration is never run again, so an edit to its file would
 * be skipped without a word and the database would silently differ from the repository. The
 * checksum recorded at apply time makes such an edit an error that names the file. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"

void admin_sha256_hex(const void *data, size_t len, char out[ADMIN_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = '\0';
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

enum admin_migration_state admin_migration_check(bool applied, const char *stored,
						 const char *current)
{
	if (!applied)
		return ADMIN_MIGRATION_NEW;
	if (!stored || !stored[0])
		return ADMIN_MIGRATION_BACKFILL;
	return strcmp(stored, current) == 0 ? ADMIN_MIGRATION_UNCHANGED : ADMIN_MIGRATION_CHANGED;
}
