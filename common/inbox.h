/* Inbox: each consumer records the (ce_source, ce_id) of every event it applied in the same
 * transaction as the change, so a redelivered event is recognised and skipped. The table is
 * <schema>.inbox, created by public.cp_create_messaging(schema) (deploy/sql). */
#ifndef CP_INBOX_H
#define CP_INBOX_H

#include <libpq-fe.h>

#define INBOX_CLAIM_SQL                                                                            \
	"INSERT INTO inbox (ce_source, ce_id, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"

/* Returns 1 when the event is new (now recorded), 0 when it was applied before, -1 on a
 * database error. Call inside the transaction that applies the event. */
int inbox_claim(PGconn *c, const char *ce_source, const char *ce_id, const char *topic)
    __attribute__((warn_unused_result));

#endif
