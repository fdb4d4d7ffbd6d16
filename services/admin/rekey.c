/* cp-admin pseudonyms rekey: moves every stored customer_ref to the current PSEUDONYM_KEY.
 *
 * Why a rewrite and not "accept both for ever": customer_ref is what joins a customer's
 * complaints (intake's open case and history, classification's VIP list, resolution and
 * follow-up's projections). A key is rotated because it may have leaked, and then every
 * pseudonym made with it can be reversed by trying phone numbers; keeping the old ones in use
 * would keep them reversible. Intake holds the phone number of every complaint, so the old
 * pseudonym of each can be recomputed and mapped to the new one, and every schema that stores
 * customer_ref is rewritten through that mapping in one transaction: afterwards the customer
 * has one pseudonym everywhere, made with the new key. Events already on the topics keep the
 * old pseudonym (history is not rewritten). A row whose pseudonym matches neither key (made
 * with a key older than PSEUDONYM_KEY_PREVIOUS) is left alone and counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "auth.h"
#include "cfg.h"
#include "ids.h"
#include "log.h"
#include "pg.h"

static struct {
	char *current;
	char *previous;
} rekey_cfg;

static const struct cfg_entry rekey_table[] = {
    {"PSEUDONYM_KEY", CFG_SECRET, NULL, 0, 0, "the new (current) pseudonym key",
     &rekey_cfg.current},
    {"PSEUDONYM_KEY_PREVIOUS", CFG_SECRET, NULL, 0, 0,
     "the key(s) it replaced, comma-separated (pseudonyms made with them are rewritten)",
     &rekey_cfg.previous},
};
#define REKEY_NCFG (sizeof(rekey_table) / sizeof(rekey_table[0]))

/* Every column that stores a customer_ref, as schema.table. */
static const char *const rekey_tables[] = {
    "intake.complaints", "classification.classifications", "resolution.cases",
    "followup.cases",	 "followup.notifications",	   "evidence.parcel_recipients",
};

/* Fills the temporary mapping old -> new from intake's complaints. */
static int rekey_map(PGconn *c, const struct auth_keyring *k, long *mapped, long *unknown)
{
	PGresult *r = pg_query(c,
			       "SELECT DISTINCT customer_ref, complainant_phone FROM "
			       "intake.complaints WHERE channel <> 'proactive' AND "
			       "customer_ref LIKE 'cust\\_%'",
			       0, NULL);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *stored = PQgetvalue(r, i, 0), *phone = PQgetvalue(r, i, 1);
		char now[30], old[30];
		if (ids_customer_ref(k->current, phone, now) != 0) {
			rc = -1;
			break;
		}
		if (strcmp(now, stored) == 0)
			continue; /* already under the current key */
		bool found = false;
		for (int j = 0; j < k->nprevious && !found; j++)
			found = ids_customer_ref(k->previous[j], phone, old) == 0 &&
				strcmp(old, stored) == 0;
		if (!found) {
			(*unknown)++;
			continue;
		}
		const char *p[] = {stored, now};
		rc = pg_exec(c,
			     "INSERT INTO pg_temp.rekey (old_ref, new_ref) VALUES ($1, $2) "
			     "ON CONFLICT DO NOTHING",
			     2, p);
		(*mapped)++;
	}
	PQclear(r);
	return rc;
}

static int rekey_apply(PGconn *c)
{
	char sql[512];
	for (size_t i = 0; i < sizeof(rekey_tables) / sizeof(rekey_tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "UPDATE %s t SET customer_ref = m.new_ref FROM pg_temp.rekey m "
			 "WHERE t.customer_ref = m.old_ref",
			 rekey_tables[i]);
		if (pg_exec(c, sql, 0, NULL) != 0)
			return -1;
	}
	/* the VIP list is keyed by the pseudonym: an enrolment under the old one moves, unless
	 * the customer was enrolled again under the new one meanwhile (that row wins) */
	if (pg_exec(
		c,
		"INSERT INTO classification.vip_customers (customer_ref, tier, note, added_at) "
		"SELECT m.new_ref, v.tier, v.note, v.added_at FROM classification.vip_customers v "
		"JOIN pg_temp.rekey m ON m.old_ref = v.customer_ref ON CONFLICT DO NOTHING",
		0, NULL) != 0 ||
	    pg_exec(c,
		    "DELETE FROM classification.vip_customers v USING pg_temp.rekey m "
		    "WHERE v.customer_ref = m.old_ref",
		    0, NULL) != 0)
		return -1;
	return 0;
}

int admin_pseudonyms_rekey(const char *admin_url)
{
	char err[256];
	struct auth_keyring k;
	if (cfg_load(rekey_table, REKEY_NCFG, err, sizeof(err)) != 0) {
		fprintf(stderr, "cp-admin: %s\n", err);
		return 2;
	}
	/* the grace period is the services' business; here the previous keys only identify
	 * which stored pseudonyms to move */
	if (auth_keyring_init(&k, "PSEUDONYM_KEY", rekey_cfg.current, rekey_cfg.previous,
			      "9999-12-31T00:00:00Z", err, sizeof(err)) != 0) {
		fprintf(stderr, "cp-admin: %s\n", err);
		cfg_free(rekey_table, REKEY_NCFG);
		return 2;
	}
	long mapped = 0, unknown = 0;
	int rc = -1;
	PGconn *c = PQconnectdb(admin_url);
	if (PQstatus(c) != CONNECTION_OK) {
		log_error("rekey", "cannot connect: %s", PQerrorMessage(c));
		goto out;
	}
	if (pg_begin(c) != 0)
		goto out;
	if (pg_exec(c,
		    "CREATE TEMP TABLE rekey (old_ref text PRIMARY KEY, new_ref text NOT NULL) "
		    "ON COMMIT DROP",
		    0, NULL) != 0 ||
	    rekey_map(c, &k, &mapped, &unknown) != 0 || rekey_apply(c) != 0 || pg_commit(c) != 0) {
		pg_rollback(c);
		goto out;
	}
	rc = 0;
	char a[32], b[32];
	snprintf(a, sizeof(a), "%ld", mapped);
	snprintf(b, sizeof(b), "%ld", unknown);
	log_msg(LOG_INFO, "pseudonyms_rekeyed", LOG_KV({"customers", a}, {"unknown_key", b}),
		"%ld customer pseudonyms moved to the current key, %ld made with an unknown key "
		"left alone",
		mapped, unknown);
	printf("pseudonyms rekeyed: %ld customers moved, %ld with an unknown key left alone\n",
	       mapped, unknown);
out:
	PQfinish(c);
	auth_keyring_free(&k);
	cfg_free(rekey_table, REKEY_NCFG);
	return rc == 0 ? 0 : 1;
}
