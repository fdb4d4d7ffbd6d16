/* The events the timer reacts to (CONTRACT.md "Reactions: timer"): received starts the
 * receipt clocks with their defaults, classified applies the policy, offered starts the accept
 * clock, the rest stop, pause, resume or restart clocks as sla_react() says, and a promised
 * update time (next_update_by) arms the next_update clock. */
#include <stdio.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "intake.pb-c.h"
#include "log.h"
#include "resolution.pb-c.h"
#include "sla.h"
#include "timer.h"
#include "topics.h"
#include "tstamp.h"

/* The facts every reacting event carries. */
struct timer_event {
	const char *complaint_id;
	const char *complaint_no;
	const char *at;	     /* the event's own time stamp, may be empty */
	const char *detail;  /* the assignment's action; "confirmed" for a person-confirmed
				evidence update */
	const char *promise; /* next_update_by: the update promised to the customer, may be
				empty */
	const char *owner;   /* an assignment's owner after it ("" while nobody owns it) */
};

/* An evidence update stops verification only when a person confirmed the responsibility:
 * the automatic bundle and its preliminary updates are input to that decision. */
static const char *evidence_detail(const Cp__EvidenceBundle *b)
{
	return b->responsibility && !b->responsibility->preliminary ? "confirmed" : "preliminary";
}

static void event_of(const ProtobufCMessage *m, struct timer_event *e)
{
	memset(e, 0, sizeof(*e));
	if (m->descriptor == &cp__first_response__descriptor) {
		const Cp__FirstResponse *f = (const void *)m;
		*e = (struct timer_event){.complaint_id = f->complaint_id,
					  .complaint_no = f->complaint_no,
					  .at = f->at,
					  .promise = f->next_update_by};
	} else if (m->descriptor == &cp__complaint_assignment__descriptor) {
		const Cp__ComplaintAssignment *a = (const void *)m;
		*e = (struct timer_event){.complaint_id = a->complaint_id,
					  .complaint_no = a->complaint_no,
					  .at = a->at,
					  .detail =
					      sla_assignment_detail(a->action, a->owner_staff_id),
					  .owner = a->owner_staff_id};
	} else if (m->descriptor == &cp__evidence_bundle__descriptor) {
		const Cp__EvidenceBundle *b = (const void *)m;
		const char *at = b->responsibility && b->responsibility->confirmed_at[0]
				     ? b->responsibility->confirmed_at
				     : b->collected_at;
		*e = (struct timer_event){.complaint_id = b->complaint_id,
					  .complaint_no = b->complaint_no,
					  .at = at,
					  .detail = evidence_detail(b)};
	} else if (m->descriptor == &cp__resolution_decided__descriptor) {
		const Cp__ResolutionDecided *d = (const void *)m;
		*e = (struct timer_event){.complaint_id = d->complaint_id,
					  .complaint_no = d->complaint_no,
					  .at = d->decided_at};
	} else if (m->descriptor == &cp__followup_event__descriptor) {
		const Cp__FollowupEvent *f = (const void *)m;
		*e = (struct timer_event){.complaint_id = f->complaint_id,
					  .complaint_no = f->complaint_no,
					  .at = f->at,
					  .promise = f->next_update_by};
	}
}

static int require_id(const char *id, char *errstr, size_t errlen)
{
	if (ids_is_uuid(id))
		return 0;
	snprintf(errstr, errlen, "complaint_id must be a UUID");
	return -1;
}

/* The event's own time, else its CloudEvents time, else now. */
static int64_t event_ms(const char *at, const struct ce_meta *ce)
{
	int64_t ms;
	if (at && at[0] && tstamp_parse(at, &ms) == 0)
		return ms;
	if (tstamp_parse(ce->time, &ms) == 0)
		return ms;
	return tstamp_now_ms();
}

static int v_received(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	int64_t ms;
	if (strlen(c->complaint_id) != 36 || tstamp_parse(c->received_at, &ms) != 0) {
		snprintf(errstr, errlen, "complaint_id and an RFC 3339 received_at are required");
		return -1;
	}
	return 0;
}

static int on_received(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	int64_t ms = 0;
	if (tstamp_parse(c->received_at, &ms) != 0)
		return -1; /* validated before; unreachable */
	return clocks_received(pg, c->complaint_id, c->complaint_no, ms);
}

static int v_classified(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	if (require_id(c->complaint_id, errstr, errlen) != 0)
		return -1;
	if (c->first_response_s < 0 || c->verification_s < 0 || c->resolution_s < 0 ||
	    c->regulatory_s < 0 || c->accept_s < 0 || c->whole_cycle_s < 0 ||
	    c->next_update_s < 0) {
		snprintf(errstr, errlen, "policy durations must not be negative");
		return -1;
	}
	return 0;
}

/* The policy a classification carries (pointing into c). */
static struct clocks_policy policy_of(const Cp__ComplaintClassified *c, const struct ce_meta *ce)
{
	return (struct clocks_policy){
	    .name = c->sla_policy,
	    .classified_ms = event_ms(c->classified_at, ce),
	    .duration_s = {[SLA_ACCEPT] = c->accept_s,
			   [SLA_FIRST_RESPONSE] = c->first_response_s,
			   [SLA_VERIFICATION] = c->verification_s,
			   [SLA_RESOLUTION] = c->resolution_s,
			   [SLA_WHOLE_CYCLE] = c->whole_cycle_s,
			   [SLA_NEXT_UPDATE] = c->next_update_s,
			   [SLA_REGULATORY] = c->regulatory_s},
	    .pausable = c->pausable_clocks,
	    .npausable = c->n_pausable_clocks,
	    .working = c->working_time_clocks,
	    .nworking = c->n_working_time_clocks,
	    .calendar = c->calendar,
	};
}

static int on_classified(PGconn *pg, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	struct clocks_policy p = policy_of(c, ce);
	return clocks_policy(pg, c->complaint_id, c->complaint_no, &p);
}

static const char *set_id(const struct consumer_set_item *it, bool policy)
{
	return policy ? ((const Cp__ComplaintClassified *)it->m)->complaint_id
		      : ((const Cp__ComplaintReceived *)it->m)->complaint_id;
}

/* A set's events in rounds: round r holds the r-th event of each complaint, so a complaint
 * meets its events one after the other, in the batch's order, as on the one-event path,
 * while each round changes many complaints with one statement per step (the set functions
 * take distinct complaints). In a burst nearly every set is one round. */
static int timer_rounds(PGconn *pg, const struct consumer_set_item *items, size_t n, bool policy)
{
	size_t *round = calloc(n, sizeof(*round));
	struct clocks_event *ev = calloc(n, sizeof(*ev));
	struct clocks_policy *pol = calloc(n, sizeof(*pol));
	int rc = round && ev && pol ? 0 : -1;
	size_t rounds = 0;
	for (size_t j = 0; j < n && rc == 0; j++) {
		for (size_t i = 0; i < j; i++)
			round[j] +=
			    strcmp(set_id(&items[j], policy), set_id(&items[i], policy)) == 0;
		rounds = round[j] + 1 > rounds ? round[j] + 1 : rounds;
	}
	for (size_t r = 0; r < rounds && rc == 0; r++) {
		size_t k = 0;
		for (size_t j = 0; j < n; j++) {
			if (round[j] != r)
				continue;
			if (policy) {
				const Cp__ComplaintClassified *c = (const void *)items[j].m;
				pol[k] = policy_of(c, items[j].ce);
				ev[k] = (struct clocks_event){c->complaint_id, c->complaint_no,
							      pol[k].classified_ms, &pol[k]};
			} else {
				const Cp__ComplaintReceived *c = (const void *)items[j].m;
				int64_t ms = 0;
				if (tstamp_parse(c->received_at, &ms) != 0)
					rc = -1; /* validated before; unreachable */
				ev[k] = (struct clocks_event){c->complaint_id, c->complaint_no, ms,
							      NULL};
			}
			k++;
		}
		if (rc == 0)
			rc = policy ? clocks_policy_set(pg, ev, k) : clocks_received_set(pg, ev, k);
	}
	free(round);
	free(ev);
	free(pol);
	return rc;
}

static int on_received_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			   char *errstr, size_t errlen, void *arg)
{
	return timer_rounds(pg, items, n, false);
}

static int on_classified_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			     char *errstr, size_t errlen, void *arg)
{
	return timer_rounds(pg, items, n, true);
}

static int v_event(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	struct timer_event e;
	int64_t ms;
	event_of(m, &e);
	if (require_id(e.complaint_id, errstr, errlen) != 0)
		return -1;
	if (e.promise && e.promise[0] && tstamp_parse(e.promise, &ms) != 0) {
		snprintf(errstr, errlen, "next_update_by must be RFC 3339");
		return -1;
	}
	return 0;
}

/* What the event does to the next_update clock: a promise arms it; a person's contact without
 * one stops it (the promise was kept). */
static int on_promise(PGconn *pg, const struct ce_meta *ce, const struct timer_event *e,
		      enum sla_promise what, int64_t at)
{
	int64_t due;
	if (what == SLA_PROMISE_NONE)
		return 0;
	if (e->promise && e->promise[0] && tstamp_parse(e->promise, &due) == 0)
		return clocks_promise(pg, e->complaint_id, e->complaint_no ? e->complaint_no : "",
				      at, due);
	if (what == SLA_PROMISE_ARM_OR_STOP)
		return clocks_stop(pg, e->complaint_id, "next_update", ce->type, at);
	return 0;
}

static int on_action(PGconn *pg, const struct ce_meta *ce, const struct timer_event *e,
		     struct sla_reaction r, int64_t at)
{
	const char *no = e->complaint_no ? e->complaint_no : "";
	switch (r.action) {
	case SLA_STOP:
		return clocks_stop(pg, e->complaint_id, r.clock, ce->type, at);
	case SLA_OFFER:
		return clocks_offered(pg, e->complaint_id, no, at);
	case SLA_PAUSE:
		return clocks_pause(pg, e->complaint_id, no, at);
	case SLA_RESUME:
		return clocks_resume(pg, e->complaint_id, at);
	case SLA_REOPEN:
		return clocks_reopen(pg, e->complaint_id, at);
	case SLA_NONE:
		break;
	}
	return 0;
}

static int on_event(PGconn *pg, const struct ce_meta *ce, const char *key,
		    const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	struct timer_event e;
	event_of(m, &e);
	struct sla_reaction r = sla_react(ce->type, e.detail);
	int64_t at = event_ms(e.at, ce);
	log_msg(LOG_DEBUG, "clock_event",
		LOG_KV({"complaint_no", e.complaint_no ? e.complaint_no : ""}, {"ce_id", ce->id}),
		"%s", ce->type);
	/* the owner first: an offer later in the batch reads it */
	if (strcmp(ce->type, "cp.complaint.assigned") == 0 &&
	    clocks_owner(pg, e.complaint_id, e.complaint_no ? e.complaint_no : "", e.owner) != 0)
		return -1;
	if (on_action(pg, ce, &e, r, at) != 0)
		return -1;
	return on_promise(pg, ce, &e, r.promise, at);
}

#define EVENT(topic, type, desc)                                                                   \
	{                                                                                          \
		topic, type, &desc, v_event, on_event                                              \
	}

const struct consumer_handler timer_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", &cp__complaint_received__descriptor, v_received,
     on_received},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     v_classified, on_classified},
    EVENT(TOPIC_CLASSIFIED, "cp.complaint.offered", cp__complaint_assignment__descriptor),
    EVENT(TOPIC_CLASSIFIED, "cp.complaint.assigned", cp__complaint_assignment__descriptor),
    EVENT(TOPIC_CLASSIFIED, "cp.complaint.first_response", cp__first_response__descriptor),
    EVENT(TOPIC_EVIDENCE, "cp.complaint.evidence_updated", cp__evidence_bundle__descriptor),
    EVENT(TOPIC_RESOLUTION, "cp.complaint.resolution_executed", cp__resolution_decided__descriptor),
    EVENT(TOPIC_FOLLOWUP, "cp.complaint.contacted", cp__followup_event__descriptor),
    EVENT(TOPIC_FOLLOWUP, "cp.complaint.closed", cp__followup_event__descriptor),
    EVENT(TOPIC_FOLLOWUP, "cp.complaint.awaiting_customer", cp__followup_event__descriptor),
    EVENT(TOPIC_FOLLOWUP, "cp.complaint.customer_replied", cp__followup_event__descriptor),
    EVENT(TOPIC_FOLLOWUP, "cp.complaint.reopened", cp__followup_event__descriptor),
};
const size_t timer_nhandlers = sizeof(timer_handlers) / sizeof(timer_handlers[0]);

/* A complaint's receipt and its classification, the two events every complaint brings, as
 * sets (handlers.c timer_rounds); the rest go one event at a time. */
const struct consumer_set_handler timer_set_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", on_received_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", on_classified_set, NULL, false},
};
const size_t timer_nset_handlers = sizeof(timer_set_handlers) / sizeof(timer_set_handlers[0]);
