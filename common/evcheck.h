/* Semantic validation of every decoded event, before any service applies it.
 *
 * Decoding only proves the bytes are protobuf: an event with priority -7, enum value 99, a
 * negative amount of money or "2026-13-45" as a time decodes fine. The rules here are the
 * ones every event obeys, written once and applied by walking the message's descriptor (so a
 * field added to a .proto is checked by its name and type without code here):
 *
 *   enums             a value the enum defines (unknown numbers are refused, 0 is "unset")
 *   integers          never negative; *_fen (money) at most EVCHECK_MAX_FEN; durations
 *                     (*_s, seconds, *_seconds) at most EVCHECK_MAX_SECONDS; counts (*_count,
 *                     round, version) at most EVCHECK_MAX_COUNT; priority 0 (unset) .. 5;
 *                     escalation_level .. EVCHECK_MAX_LEVEL; *_pct .. 100; survey_score .. 5
 *   doubles           finite; lat within ±90, lon within ±180
 *   strings           well-formed UTF-8; times (*_at, at, *_by but not a person's *_by:
 *                     next_update_by, promised_by) empty or RFC 3339 between the years 2000
 *                     and 2100; complaint_id, previous_complaint_id empty or a UUID;
 *                     complaint_no empty or up to 40 letters, digits, '-', '_'; currency empty or
 *                     three capitals
 *   nested messages   the same rules, recursively (repeated ones each)
 *
 * Service validators still check what only they know (required fields, their enums' meaning).
 * The consumer dead-letters an event that fails here with the reason and never applies it, so
 * a service never re-emits what it could not validate. */
#ifndef CP_EVCHECK_H
#define CP_EVCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define EVCHECK_MAX_FEN	    10000000000LL /* 100 million CNY: more is a corrupt amount */
#define EVCHECK_MAX_SECONDS 315360000LL	  /* ten years */
#define EVCHECK_MAX_COUNT   1000000LL
#define EVCHECK_MAX_LEVEL   9 /* the ladder has 4 rungs; reopenings may raise it further */

/* Returns 0 when m obeys every rule, else -1 with the first problem (field path and why) in
 * err, e.g. "priority: -7 is out of range 0..5". */
int evcheck_message(const ProtobufCMessage *m, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same for the serialized bytes of a message of type desc (decode, then check): used by
 * the fuzz target and by tools. Returns -1 also when the bytes do not decode. */
int evcheck_bytes(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* The complaint_id and complaint_no of m when it has both (non-empty strings), else NULLs. */
void evcheck_ids(const ProtobufCMessage *m, const char **id, const char **no);

#endif
