/* The evidence and responsibility logic: a parcel's scans (and the answers to evidence
 * requests) in, findings and a preliminary responsibility out. Pure: no I/O, no clock (the
 * caller passes now), no allocation. Unit-tested from tests/fixtures/evidence/. */
#ifndef CP_EVIDENCE_ASSESS_H
#define CP_EVIDENCE_ASSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The scan codes, numbered as cp.ScanCode in proto/tracking.proto. */
enum ev_code {
	EV_NONE = 0,
	EV_PICKED_UP,
	EV_ARRIVED,
	EV_DEPARTED,
	EV_OUT_FOR_DELIVERY,
	EV_DELIVERED,
	EV_LOCKER_STORED,
	EV_STATION_STORED,
	EV_EXCEPTION,
	EV_RETURNED,
	EV_NCODES
};

/* "picked_up", "arrived", ... ; "" for EV_NONE or an unknown value. */
const char *ev_code_name(int code);
/* The code of a name ("delivered") or EV_NONE. */
int ev_code_parse(const char *name);
/* True for the facility types of the contract: outlet, sorting_centre, line_haul, locker,
 * partner (and "" = not given). */
bool ev_facility_type_valid(const char *type);

/* One scan. Strings are borrowed (never NULL; "" when absent) and must outlive the result. */
struct ev_scan {
	int code;
	int64_t at_ms;
	int64_t promised_ms; /* 0: none */
	const char *facility_id;
	const char *facility_type;
	const char *courier_id;
	const char *city;
	const char *pod_ref;
	const char *signed_by;
	const char *reason; /* exception_reason */
	bool consented;
	bool has_location;
	double lat, lon;
	size_t ref; /* the caller's own reference (e.g. its row), carried through the sort */
};

/* An answer to an evidence request (borrowed strings). */
struct ev_answer {
	const char *facility_id;
	const char *kind;    /* surveillance, courier_statement, photos */
	const char *outcome; /* see ev_outcome_valid */
	bool late;
};

/* True when outcome is one the contract lists (README: evidence answers). */
bool ev_outcome_valid(const char *outcome);

struct ev_policy {
	int64_t stuck_after_s;	   /* a stay longer than this is "stuck" */
	const char *force_majeure; /* comma-separated exception reasons: weather,traffic_control */
	size_t slice_scans;	   /* trajectory slice for loss and other categories */
};

enum ev_kind { EV_KIND_DELAY, EV_KIND_DAMAGE, EV_KIND_LOSS, EV_KIND_LAST_MILE, EV_KIND_OTHER };
/* delay; damage; loss, signed_not_received, locker_theft, wrong_delivery; the two ways of
 * handing a parcel over that the 快递市场管理办法 forbids since 1 March 2024 (proxy_signed,
 * unconsented_locker_station); the rest. */
enum ev_kind ev_kind_of(const char *subcategory);

#define EV_MAX_FINDINGS	  32
#define EV_MAX_REASONS	  6
#define EV_MAX_FACILITIES 32
#define EV_TEXT		  160

struct ev_finding {
	char kind[32]; /* on_time, late, time_lost, stuck, missed_scan, stated_cause, ... */
	char facility_id[64];
	int64_t seconds;
	char detail[EV_TEXT];
};

struct ev_resp {
	char
	    stage[24]; /* pickup, sorting, line_haul, delivery, locker, customer_service, unknown */
	char party[24]; /* courier, outlet, sorting_centre, line_haul, franchise_partner,
			 * locker_operator, customer, force_majeure, unknown */
	char party_id[64];
	char reasons[EV_MAX_REASONS][EV_TEXT];
	size_t nreasons;
	int confidence; /* percent */
	/* The scans alone prove it: a delay past promised_by (delivered late, or still not
	 * delivered when promised_by has passed) with no stated cause that excuses the carrier
	 * (a force-majeure reason of the policy, or an address problem). Only then may an
	 * operator's auto-settlement rule act without a person's confirmation. */
	bool conclusive;
};

struct ev_result {
	struct ev_finding findings[EV_MAX_FINDINGS];
	size_t nfindings;
	struct ev_resp resp;
	bool tracking_found;
	bool delivered;		/* a delivered (signed) scan */
	bool locker_or_station; /* stored in a locker or at a station */
	bool consented;		/* ... with the customer's consent */
	int last;		/* index of the last scan, -1 without scans */
	int delivery;		/* index of the delivered/locker/station scan, -1 if none */
	int64_t promised_ms;	/* from the pickup scan, 0 if unknown */
	const char *courier_id; /* the courier to contact ("" if unknown) */
	const char *facilities[EV_MAX_FACILITIES]; /* passed, in order, each once */
	size_t nfacilities;
	const char *survey[EV_MAX_FACILITIES]; /* damage: sorting centres to ask for surveillance */
	size_t nsurvey;
	bool courier_statement;	     /* loss kinds: ask the courier for a statement */
	size_t slice_from, slice_to; /* the trajectory slice [from, to) of the sorted scans */
};

/* Sorts scans by time (stable, in place) and assesses them for a complaint of subcategory.
 * answers may be NULL when nanswers is 0. */
void ev_assess(struct ev_scan *scans, size_t n, const char *subcategory,
	       const struct ev_answer *answers, size_t nanswers, const struct ev_policy *pol,
	       int64_t now_ms, struct ev_result *out);

/* The finding of kind in r (first one) or NULL. */
const struct ev_finding *ev_find(const struct ev_result *r, const char *kind);

#endif
