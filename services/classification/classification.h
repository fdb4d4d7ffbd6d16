/* The classification service: category, urgency, priority, SLA policy, routing to the three
 * nearest staff and the automatic first response for every complaint received.
 *
 * Pure decisions (classify.c, route.c) take data and return results, no I/O; the rest reads
 * and writes the classification schema: keywords.c (the keyword table and its cache),
 * policies.c (SLA policies, VIP tiers, response templates), registry.c (staff registry),
 * offers.c (offer rounds, accept), handlers.c (the consumed events). Who may hold a case
 * (conflict of interest, the escalation ladder, reassign, VIPs) is declared in ownership.h. */
#ifndef CP_CLASSIFICATION_H
#define CP_CLASSIFICATION_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumer.h"
#include "httpd.h"
#include "intake.pb-c.h"

struct classification_config {
	long long first_response_s;
	long long verification_s;
	long long resolution_s;
	long long regulatory_s;
	long long next_update_s;
	long long keyword_reload_ms;
	long long offer_timeout_s;
	long long offer_rounds;
	long long offer_size;
	long long offer_sweep_ms;
	long long breach_max_age_s;
};
extern struct classification_config classification_cfg;

/* --- the keyword table (pure data) --- */

enum kw_kind { KW_CATEGORY, KW_ANGRY, KW_GOODS };

struct kw_entry {
	char keyword[64]; /* lowercase; ASCII keywords match whole words only */
	enum kw_kind kind;
	char category[24];    /* KW_CATEGORY */
	char subcategory[32]; /* KW_CATEGORY */
	char goods[16];	      /* KW_GOODS: medicine, fresh_food, documents */
	int weight;
	bool override; /* KW_CATEGORY: decides the sub-category whatever the model reads */
};

struct kw_table {
	struct kw_entry *v;
	size_t n;
};

/* The category a subcategory belongs to, or NULL when the subcategory is unknown. */
const char *classify_category_of(const char *subcategory);
/* Fills e from text fields (as stored in SQL); errstr names the problem. Pure. */
int classify_kw_make(struct kw_entry *e, const char *keyword, const char *kind,
		     const char *category, const char *subcategory, const char *goods, int weight,
		     char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* --- the decision --- */

#define CLASSIFY_MAX_KEYWORDS 12

struct classify_result {
	char category[24];
	char subcategory[32];
	char text_category[24]; /* what the free text alone points to ("" when nothing) */
	char text_subcategory[32];
	char keywords[CLASSIFY_MAX_KEYWORDS][64];
	int nkeywords;
	bool angry;
	bool urgent_goods;
	char urgency[16];  /* normal, urgent, very_urgent */
	char severity[12]; /* low, medium, high, critical */
	char tier[12];	   /* standard, vip */
	int priority;	   /* 1 (highest) .. 5 */
	char reason[256];
	char scenario[16];	 /* emotional, inquiry, compensation */
	char text_reader[12];	 /* model, keywords, override: what read the text */
	double text_probability; /* the model's probability of its reading (0 without one) */
	bool needs_review;	 /* below the minimum confidence: a person confirms it */
};

/* What the trained model read in the text (textreader.c); see classify_complaint_read. */
struct classify_reading {
	const char *text; /* the normalised text (textnorm_text); NULL: fold the description */
	const char *subcategory; /* the model's reading; NULL or "": no model reading */
	double probability;
	double min_confidence; /* below this the classification is marked needs_review */
	/* a person's sub-category (PUT .../classification): it wins over the stated type, the
	 * model and the override keywords; urgency, severity and priority follow it. NULL: none */
	const char *decided;
};

/* Pure: decides from the received complaint, the keyword table and the customer's tier. */
void classify_complaint(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			struct classify_result *out);
/* Pure: the same with the trained model's reading of the text as the text's reading (rd NULL
 * or without a subcategory: the keywords read it). An override keyword still wins over the
 * model; the other keywords are recorded and count for urgency and anger. */
void classify_complaint_read(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			     const struct classify_reading *rd, struct classify_result *out);

/* Pure: the keyword table as features for the trained model: " kw_<subcategory>" for every
 * category keyword found in the normalised text and not denied ("~kw_..." when conceded), in
 * table order. out[cap] always NUL-terminated. */
void classify_keyword_tokens(const char *norm, const struct kw_table *kw, char *out, size_t cap);

/* Pure: the priority matrix (documented in the README). urgency and severity as above;
 * returns 1..5, or 5 for unknown values. */
int classify_priority(const char *urgency, const char *severity, bool vip);

/* Pure: replaces {complaint_no}, {waybill_no}, {latest_scan} and {next_update_by} in tmpl.
 * Unknown placeholders are copied as they are. out always NUL-terminated. */
struct classify_vars {
	const char *complaint_no;
	const char *waybill_no;
	const char *latest_scan;
	const char *next_update_by;
};
void classify_render(const char *tmpl, const struct classify_vars *v, char *out, size_t cap);

/* Pure: a time for the customer: "2026-11-24 21:05 (Beijing time)" in zh-CN, UTC in en. */
void classify_human_time(int64_t ms, const char *language, char *out, size_t cap);

/* Pure: the latest scan in words, e.g. "2026-11-24 18:00 到达 深圳 (SZ-HUB-1)". code is a
 * Cp__ScanCode; when known is false, the "no scan yet" sentence. */
void classify_scan_text(bool known, int code, const char *city, const char *facility_id,
			int64_t at_ms, const char *language, char *out, size_t cap);

/* --- routing (pure) --- */

struct route_staff {
	char staff_id[64];
	char outlet_id[64];
	double lat, lon;
	bool has_location;
};

/* Great-circle distance in kilometres. */
double route_distance_km(double lat1, double lon1, double lat2, double lon2);

/* Picks up to k of the n candidates nearest to the origin (has_origin false: the first k in
 * the given order); candidates without a location come after those with one. Writes their
 * indexes to out (nearest first) and returns how many. */
size_t route_nearest(bool has_origin, double lat, double lon, const struct route_staff *staff,
		     size_t n, size_t k, size_t *out);

/* --- keywords.c --- */

/* Loads the table into the cache when it changed (or was never loaded). 0 or -1. */
int keywords_refresh(PGconn *c, bool force);
/* Loads the table if it was never loaded (the consumer may run before the reload task). */
int keywords_ensure(PGconn *c);
/* Calls fn with the cached table under a read lock. */
void keywords_with(void (*fn)(const struct kw_table *kw, void *arg), void *arg);
int keywords_task(PGconn *c, void *arg);
void keywords_get(struct http_req *r, void *arg);
void keywords_put(struct http_req *r, void *arg);

/* --- policies.c --- */

#define POLICY_MAX_CLOCKS	  3
#define POLICY_MAX_WORKING_CLOCKS 6

struct sla_policy {
	char name[64];
	long long first_response_s, verification_s, resolution_s, regulatory_s;
	char pausable[POLICY_MAX_CLOCKS][16];
	int npausable;
	/* the clocks that time people (0: the policy does not run that clock) */
	long long accept_s, whole_cycle_s, next_update_s;
	char working[POLICY_MAX_WORKING_CLOCKS][16]; /* clocks on the working calendar */
	int nworking;
	char calendar[64];
};

/* The policy an operator tied to the channel (channel_policies, e.g. proactive), else the first
 * policy (by rank) matching; the configured defaults when none does. 0 or -1. */
int policy_choose(PGconn *c, const char *channel, const struct classify_result *r,
		  struct sla_policy *out) __attribute__((warn_unused_result));
/* The policy of row's columns col.. (CHOOSE_SQL's eleven: name, the four durations, the
 * pausable clocks, accept, whole cycle, next update, the working-time clocks, the calendar);
 * the configured defaults when the row is absent or its name NULL (no policy matched). */
void policy_from_row(const PGresult *res, int row, int col, struct sla_policy *out);
/* policy_choose and policy_template for n complaints in one statement: cells are n rows of
 * (category, subcategory, urgency, tier, channel, scenario, language). One result row per input
 * row, in order: the policy's columns for policy_from_row (col 0), then the template's body
 * (col 11, NULL when none). NULL on error. */
PGresult *policy_choose_set(PGconn *c, const char *const *cells, size_t n);
/* 1 when customer_ref is on the VIP list, 0 when not, -1 on error. */
int policy_is_vip(PGconn *c, const char *customer_ref);
/* The template body for scenario and language (falling back to zh-CN); NULL when none.
 * The caller PQclear()s *res after using the returned string. */
const char *policy_template(PGconn *c, const char *scenario, const char *language, PGresult **res);
void policies_get(struct http_req *r, void *arg);
void policies_put(struct http_req *r, void *arg);

/* --- handlers.c --- */

/* Announces cp.complaint.classified for c as r reads it, on policy (its clocks), with the
 * outlet whose manager gets escalations; in the caller's transaction (outbox). Used when a
 * complaint is classified and again when a person corrects its category, so evidence,
 * resolution, the clocks and follow-up follow the new category. 0 or -1. */
int classification_announce(PGconn *pg, const Cp__ComplaintReceived *c,
			    const struct classify_result *r, const struct sla_policy *policy,
			    const char *outlet_id) __attribute__((warn_unused_result));

/* --- registry.c --- */

/* A first name customers may see: 1-20 characters of UTF-8, no digits, no '@', no control
 * characters (so never a phone number, an e-mail address or a staff id). Pure. */
bool registry_first_name_valid(const char *s);
void registry_get(struct http_req *r, void *arg);
void registry_put(struct http_req *r, void *arg);
/* GET /v1/complaints/{no}/classification: both readings, the reason, the policy and the
 * routing state (agent role or above). */
void registry_get_classification(struct http_req *r, void *arg);

/* --- offers.c --- */

/* Where a complaint is handled: the parcel's last known location (projection of
 * parcel.tracking.v1) or the complainant's outlet, and the outlet whose manager gets
 * escalations (the complainant's outlet, else the outlet that scanned the parcel last, else
 * the outlet of the nearest available staff member). */
struct route_origin {
	bool has_location;
	double lat, lon;
	char outlet_id[64];
};
int offers_locate(PGconn *c, const Cp__ComplaintReceived *rc, struct route_origin *o);
/* What offers_locate reads, read for a whole set with one statement: the parcel's row of
 * parcel_positions (known; the other fields NULL when SQL NULL) and the average position of
 * the staff of the outlet the complaint is handled at (NULL when none). */
struct offers_position {
	bool known;
	const char *facility_id, *facility_type, *lat, *lon;
	const char *outlet_lat, *outlet_lon;
};
/* offers_locate on what was read: 0 located, 1 the nearest outlet is still to be found
 * (offers_nearest_outlets). Pure. */
int offers_locate_from(const Cp__ComplaintReceived *rc, const struct offers_position *pos,
		       struct route_origin *o);
/* nearest_outlet of offers_locate for n origins with one statement (the same candidates per
 * origin, LATERAL): each origin's outlet_id is set when someone is found. 0 or -1. */
int offers_nearest_outlets(PGconn *c, struct route_origin *const *os, size_t n)
    __attribute__((warn_unused_result));
/* offers_open for n distinct complaints classified now, with a constant number of statements
 * (offers.c says which); the same rows and announcements; ce_ids name each one's event in its
 * log lines (NULL: none). 0 or -1. */
int offers_open_set(PGconn *c, const Cp__ComplaintReceived *const *rcs,
		    const struct route_origin *const *origins, const char *const *ce_ids, size_t n)
    __attribute__((warn_unused_result));
/* Opens the assignment and offers it to the nearest staff (or escalates at once when nobody
 * is available). Runs inside the consumer's transaction. 0 or -1. */
int offers_open(PGconn *c, const Cp__ComplaintReceived *rc, const struct route_origin *o);
int offers_sweep(PGconn *c, void *arg);
void offers_accept(struct http_req *r, void *arg);
void offers_mine(struct http_req *r, void *arg);

/* --- handlers.c --- */

extern const struct consumer_handler classification_handlers[];
extern const size_t classification_nhandlers;
extern const struct consumer_set_handler classification_set_handlers[];
extern const size_t classification_nset_handlers;

#endif
