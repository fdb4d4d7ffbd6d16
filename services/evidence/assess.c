/* Findings and preliminary responsibility from a parcel's scans. See assess.h. */
#include "assess.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[EV_NCODES] = {
    "",		 "picked_up",	  "arrived",	    "departed",	 "out_for_delivery",
    "delivered", "locker_stored", "station_stored", "exception", "returned",
};

const char *ev_code_name(int code)
{
	return code > EV_NONE && code < EV_NCODES ? code_names[code] : "";
}

int ev_code_parse(const char *name)
{
	for (int i = 1; i < EV_NCODES; i++)
		if (strcmp(code_names[i], name) == 0)
			return i;
	return EV_NONE;
}

static bool in_list(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(*list, word) == 0)
			return true;
	return false;
}

bool ev_facility_type_valid(const char *type)
{
	static const char *const types[] = {
	    "", "outlet", "sorting_centre", "line_haul", "locker", "partner", NULL};
	return in_list(type, types);
}

bool ev_outcome_valid(const char *outcome)
{
	static const char *const outcomes[] = {"sorting_mishandling",
					       "transport_squeeze",
					       "packaging",
					       "no_damage_seen",
					       "not_available",
					       "delivered_as_scanned",
					       "delivered_elsewhere",
					       "not_delivered",
					       "lost",
					       "photos_provided",
					       NULL};
	return in_list(outcome, outcomes);
}

enum ev_kind ev_kind_of(const char *sub)
{
	static const char *const loss[] = {"loss", "signed_not_received", "locker_theft",
					   "wrong_delivery", NULL};
	if (strcmp(sub, "delay") == 0)
		return EV_KIND_DELAY;
	if (strcmp(sub, "damage") == 0)
		return EV_KIND_DAMAGE;
	if (strcmp(sub, "proxy_signed") == 0 || strcmp(sub, "unconsented_locker_station") == 0)
		return EV_KIND_LAST_MILE;
	return in_list(sub, loss) ? EV_KIND_LOSS : EV_KIND_OTHER;
}

/* ---- small helpers ---- */

static void add_finding(struct ev_result *r, const char *kind, const char *facility,
			int64_t seconds, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_finding(struct ev_result *r, const char *kind, const char *facility,
			int64_t seconds, const char *fmt, ...)
{
	if (r->nfindings >= EV_MAX_FINDINGS)
		return;
	struct ev_finding *f = &r->findings[r->nfindings++];
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->facility_id, sizeof(f->facility_id), "%s", facility);
	f->seconds = seconds;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
}

static void add_reason(struct ev_resp *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_reason(struct ev_resp *resp, const char *fmt, ...)
{
	if (resp->nreasons >= EV_MAX_REASONS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(resp->reasons[resp->nreasons++], EV_TEXT, fmt, ap);
	va_end(ap);
}

static void blame(struct ev_resp *resp, const char *stage, const char *party, const char *id,
		  int confidence)
{
	snprintf(resp->stage, sizeof(resp->stage), "%s", stage);
	snprintf(resp->party, sizeof(resp->party), "%s", party);
	snprintf(resp->party_id, sizeof(resp->party_id), "%s", id ? id : "");
	resp->confidence = confidence;
	resp->nreasons = 0;
}

const struct ev_finding *ev_find(const struct ev_result *r, const char *kind)
{
	for (size_t i = 0; i < r->nfindings; i++)
		if (strcmp(r->findings[i].kind, kind) == 0)
			return &r->findings[i];
	return NULL;
}

static double hours(int64_t s)
{
	return (double)s / 3600.0;
}

static bool is_final(int code)
{
	return code == EV_DELIVERED || code == EV_LOCKER_STORED || code == EV_STATION_STORED ||
	       code == EV_RETURNED;
}

static bool is_departure(int code)
{
	return code == EV_DEPARTED || code == EV_OUT_FOR_DELIVERY;
}

static bool listed(const char *csv, const char *word)
{
	size_t len = strlen(word);
	for (const char *p = csv; len && p && *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p = p[n] ? p + n + 1 : NULL;
	}
	return false;
}

static void sort_scans(struct ev_scan *s, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ev_scan cur = s[i];
		size_t j = i;
		for (; j > 0 && s[j - 1].at_ms > cur.at_ms; j--)
			s[j] = s[j - 1];
		s[j] = cur;
	}
}

/* The stage and party a facility of this type stands for; origin: before the first
 * departure of the parcel (pickup side). */
static void facility_party(const char *type, bool origin, const char **stage, const char **party)
{
	*stage = "unknown";
	*party = "unknown";
	if (strcmp(type, "outlet") == 0) {
		*stage = origin ? "pickup" : "delivery";
		*party = "outlet";
	} else if (strcmp(type, "partner") == 0) {
		*stage = origin ? "pickup" : "delivery";
		*party = "franchise_partner";
	} else if (strcmp(type, "sorting_centre") == 0) {
		*stage = "sorting";
		*party = "sorting_centre";
	} else if (strcmp(type, "line_haul") == 0) {
		*stage = "line_haul";
		*party = "line_haul";
	} else if (strcmp(type, "locker") == 0) {
		*stage = "locker";
		*party = "locker_operator";
	}
}

static void blame_facility(struct ev_resp *resp, const struct ev_scan *s, bool origin,
			   int confidence)
{
	const char *stage, *party;
	facility_party(s->facility_type, origin, &stage, &party);
	blame(resp, stage, party, s->facility_id, confidence);
}

/* ---- facility stays: consecutive scans at the same facility ---- */

struct stay {
	size_t first, last; /* scan indices */
};

#define MAX_STAYS 64

static size_t find_stays(const struct ev_scan *s, size_t n, struct stay *stays)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!s[i].facility_id[0])
			continue;
		if (k > 0 && strcmp(s[stays[k - 1].last].facility_id, s[i].facility_id) == 0) {
			stays[k - 1].last = i;
			continue;
		}
		if (k == MAX_STAYS)
			break;
		stays[k++] = (struct stay){i, i};
	}
	return k;
}

static void list_facilities(const struct ev_scan *s, const struct stay *st, size_t k,
			    struct ev_result *r)
{
	for (size_t i = 0; i < k; i++) {
		const struct ev_scan *f = &s[st[i].first];
		bool seen = false;
		for (size_t j = 0; j < r->nfacilities && !seen; j++)
			seen = strcmp(r->facilities[j], f->facility_id) == 0;
		if (seen || r->nfacilities == EV_MAX_FACILITIES)
			continue;
		r->facilities[r->nfacilities++] = f->facility_id;
		if (strcmp(f->facility_type, "sorting_centre") == 0)
			r->survey[r->nsurvey++] = f->facility_id;
	}
}

/* ---- the common facts ---- */

static void basic_facts(const struct ev_scan *s, size_t n, struct ev_result *r)
{
	r->last = (int)n - 1;
	r->delivery = -1;
	r->courier_id = "";
	for (size_t i = 0; i < n; i++) {
		if (s[i].code == EV_PICKED_UP && s[i].promised_ms && !r->promised_ms)
			r->promised_ms = s[i].promised_ms;
		if (s[i].courier_id[0])
			r->courier_id = s[i].courier_id;
		bool stored = s[i].code == EV_LOCKER_STORED || s[i].code == EV_STATION_STORED;
		if ((s[i].code == EV_DELIVERED || stored) && r->delivery < 0)
			r->delivery = (int)i;
		if (s[i].code == EV_DELIVERED)
			r->delivered = true;
		if (stored) {
			r->locker_or_station = true;
			r->consented = s[i].consented;
		}
	}
}

/* Stuck: no new scan for longer than the threshold after a scan at a facility (a departure
 * is a parcel on the move, not held; the last scan counts until now unless it is final). */
static void find_stuck(const struct ev_scan *s, size_t n, const struct ev_policy *pol,
		       int64_t now_ms, struct ev_result *r)
{
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		if (!s[i].facility_id[0] || (last && is_final(s[i].code)) ||
		    (!last && s[i].code == EV_DEPARTED))
			continue;
		int64_t secs = ((last ? now_ms : s[i + 1].at_ms) - s[i].at_ms) / 1000;
		if (secs > pol->stuck_after_s)
			add_finding(r, "stuck", s[i].facility_id, secs,
				    "no new scan for %.1f h after %s at %s", hours(secs),
				    ev_code_name(s[i].code), s[i].facility_type);
	}
}

static void find_missed(const struct ev_scan *s, const struct stay *st, size_t k,
			struct ev_result *r)
{
	for (size_t i = 0; i + 1 < k; i++) {
		const struct ev_scan *a = &s[st[i].last], *b = &s[st[i + 1].first];
		int64_t gap = (b->at_ms - a->at_ms) / 1000;
		if (!is_departure(a->code))
			add_finding(r, "missed_scan", a->facility_id, gap,
				    "no departure scan at %s before arrival at %s", a->facility_id,
				    b->facility_id);
		if (is_departure(b->code))
			add_finding(r, "missed_scan", b->facility_id, gap,
				    "no arrival scan at %s after departure from %s", b->facility_id,
				    a->facility_id);
	}
}

static void find_causes(const struct ev_scan *s, size_t n, struct ev_result *r)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].code == EV_EXCEPTION && s[i].reason[0])
			add_finding(r, "stated_cause", s[i].facility_id, 0, "%s", s[i].reason);
}

/* ---- delay ---- */

struct lost {
	int64_t seconds;
	size_t stay;  /* the stay that held the parcel longest */
	bool transit; /* the time was lost between stay and stay+1 */
};

static struct lost largest_loss(const struct ev_scan *s, size_t n, const struct stay *st, size_t k,
				int64_t now_ms)
{
	struct lost best = {-1, 0, false};
	for (size_t i = 0; i < k; i++) {
		bool ongoing = i + 1 == k && !is_final(s[n - 1].code);
		int64_t held = (ongoing ? now_ms : s[st[i].last].at_ms) - s[st[i].first].at_ms;
		if (held / 1000 > best.seconds)
			best = (struct lost){held / 1000, i, false};
		if (i + 1 < k) {
			/* without a departure scan the facility cannot show it let the parcel go:
			 * the gap counts as held there */
			bool left = is_departure(s[st[i].last].code);
			int64_t moving = s[st[i + 1].first].at_ms - s[st[i].last].at_ms;
			int64_t secs = (left ? moving : moving + held) / 1000;
			if (secs > best.seconds)
				best = (struct lost){secs, i, left};
		}
	}
	return best;
}

static int64_t arrival_ms(const struct ev_scan *s, const struct ev_result *r, int64_t now_ms)
{
	return r->delivery >= 0 ? s[r->delivery].at_ms : now_ms;
}

static const struct ev_scan *cause_scan(const struct ev_scan *s, size_t n, const char *csv, bool in)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].code == EV_EXCEPTION && s[i].reason[0] && listed(csv, s[i].reason) == in)
			return &s[i];
	return NULL;
}

static void blame_loss(const struct ev_scan *s, const struct stay *st, const struct lost *l,
		       const struct ev_result *r, struct ev_resp *resp)
{
	const struct ev_scan *at = &s[st[l->stay].first];
	if (l->transit) {
		const struct ev_scan *to = &s[st[l->stay + 1].first];
		blame(resp, "line_haul", "line_haul", at->facility_id, 50);
		add_reason(resp, "%.1f h in transit from %s to %s", hours(l->seconds),
			   at->facility_id, to->facility_id);
		return;
	}
	blame_facility(resp, at, l->stay == 0, 60);
	add_reason(resp, "%.1f h at %s (%s)", hours(l->seconds), at->facility_id,
		   at->facility_type);
	for (size_t i = 0; i < r->nfindings; i++)
		if (strcmp(r->findings[i].kind, "missed_scan") == 0 &&
		    strcmp(r->findings[i].facility_id, at->facility_id) == 0) {
			resp->confidence = 70;
			add_reason(resp, "%s", r->findings[i].detail);
			break;
		}
}

static void assess_delay(const struct ev_scan *s, size_t n, const struct stay *st, size_t k,
			 const struct ev_policy *pol, int64_t now_ms, struct ev_result *r)
{
	int64_t end = arrival_ms(s, r, now_ms);
	bool late = r->promised_ms ? end > r->promised_ms : ev_find(r, "stuck") != NULL;
	if (r->promised_ms && !late)
		add_finding(r, "on_time", "", (r->promised_ms - end) / 1000,
			    "%s %.1f h before the promised time",
			    r->delivery >= 0 ? "delivered" : "still in time:",
			    hours((r->promised_ms - end) / 1000));
	if (r->promised_ms && late)
		add_finding(r, "late", "", (end - r->promised_ms) / 1000,
			    "%s %.1f h after the promised time",
			    r->delivery >= 0 ? "delivered" : "not delivered",
			    hours((end - r->promised_ms) / 1000));
	struct lost l = k ? largest_loss(s, n, st, k, now_ms) : (struct lost){-1, 0, false};
	if (late && l.seconds > 0)
		add_finding(r, "time_lost", s[st[l.stay].first].facility_id, l.seconds,
			    l.transit ? "in transit to the next facility" : "held at the facility");
	const struct ev_scan *fm = cause_scan(s, n, pol->force_majeure, true);
	const struct ev_scan *addr = cause_scan(s, n, "address_problem", true);
	if (!late && r->promised_ms) {
		blame(&r->resp, "delivery", "customer", "", 50);
		add_reason(&r->resp, "no delay: within the promised delivery time");
	} else if (late && fm) {
		const char *stage, *party;
		facility_party(fm->facility_type, false, &stage, &party);
		blame(&r->resp, stage, "force_majeure", "", 70);
		add_reason(&r->resp, "%s reported at %s", fm->reason, fm->facility_id);
	} else if (late && addr) {
		blame(&r->resp, "delivery", "customer", "", 60);
		add_reason(&r->resp, "address problem reported at %s", addr->facility_id);
	} else if (late && l.seconds > 0) {
		blame_loss(s, st, &l, r, &r->resp);
	} else {
		blame(&r->resp, "unknown", "unknown", "", 20);
		add_reason(&r->resp,
			   "no promised delivery time in the scans and no stuck facility");
	}
	/* a stuck parcel without a promised time is a suspicion, not a proof: only the
	 * promise the carrier made at pickup makes a delay provable from the scans */
	r->resp.conclusive = r->promised_ms && late && !fm && !addr;
}

/* ---- damage ---- */

static const struct ev_answer *answer_with(const struct ev_answer *a, size_t n, const char *outcome)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].outcome, outcome) == 0)
			return &a[i];
	return NULL;
}

static bool damage_answers(const struct ev_answer *a, size_t na, const struct ev_result *r,
			   struct ev_resp *resp)
{
	const struct ev_answer *x;
	if ((x = answer_with(a, na, "sorting_mishandling"))) {
		blame(resp, "sorting", "sorting_centre", x->facility_id, 85);
		add_reason(resp, "surveillance at %s shows mishandling on the sorting line",
			   x->facility_id);
	} else if ((x = answer_with(a, na, "transport_squeeze"))) {
		blame(resp, "line_haul", "line_haul", x->facility_id, 75);
		add_reason(resp, "surveillance at %s shows the parcel squeezed in transport",
			   x->facility_id);
	} else if ((x = answer_with(a, na, "packaging"))) {
		blame(resp, "pickup", "customer", "", 70);
		add_reason(resp, "surveillance at %s shows insufficient packaging", x->facility_id);
	} else if (na > 0 && r->nsurvey > 0 && na >= r->nsurvey &&
		   answer_with(a, na, "no_damage_seen")) {
		blame(resp, "delivery", "courier", r->courier_id, 50);
		add_reason(resp, "no damage seen at the sorting centres: after the last one");
	} else {
		return false;
	}
	return true;
}

static void assess_damage(const struct ev_scan *s, size_t n, const struct stay *st, size_t k,
			  const struct ev_answer *a, size_t na, struct ev_result *r)
{
	const struct ev_scan *hit = NULL;
	size_t at = 0;
	for (size_t i = 0; i < k && !hit; i++)
		for (size_t j = st[i].first; j <= st[i].last && !hit; j++)
			if (s[j].code == EV_EXCEPTION && strncmp(s[j].reason, "damaged", 7) == 0) {
				hit = &s[j];
				at = i;
			}
	if (hit)
		add_finding(r, "damaged_on_arrival", hit->facility_id, 0,
			    "damage recorded at %s (%s)", hit->facility_id, hit->facility_type);
	for (size_t i = 0; i < r->nsurvey; i++)
		add_finding(r, "surveillance_requested", r->survey[i], 0,
			    "sorting-line surveillance asked of %s", r->survey[i]);
	if (damage_answers(a, na, r, &r->resp))
		return;
	if (hit && at > 0) {
		const struct ev_scan *prev = &s[st[at - 1].first];
		const char *stage, *party;
		facility_party(prev->facility_type, at - 1 == 0, &stage, &party);
		blame(&r->resp, "line_haul", party, prev->facility_id, 55);
		add_reason(&r->resp, "damage recorded on arrival at %s", hit->facility_id);
		add_reason(&r->resp, "last handled at %s before it", prev->facility_id);
	} else if (hit) {
		blame_facility(&r->resp, hit, true, 50);
		add_reason(&r->resp, "damage recorded at %s, the first facility", hit->facility_id);
	} else {
		blame(&r->resp, r->nsurvey ? "sorting" : "unknown",
		      r->nsurvey ? "sorting_centre" : "unknown", "", 25);
		add_reason(&r->resp,
			   "no damage recorded in the scans; surveillance asked of %zu "
			   "sorting centre(s)",
			   r->nsurvey);
	}
}

/* ---- loss, signed but not received, locker theft ---- */

static void loss_findings(const struct ev_scan *s, struct ev_result *r)
{
	const struct ev_scan *last = &s[r->last];
	add_finding(r, "last_scan", last->facility_id, 0, "%s by %s", ev_code_name(last->code),
		    last->courier_id[0] ? last->courier_id : "unknown");
	if (r->delivery < 0)
		return;
	const struct ev_scan *d = &s[r->delivery];
	add_finding(r, d->pod_ref[0] ? "pod" : "no_pod", d->facility_id, 0, "%s",
		    d->pod_ref[0] ? d->pod_ref : "no proof-of-delivery photo");
	if (d->city[0] || d->has_location)
		add_finding(r, "delivery_location", d->facility_id, 0, "%s (%.5f,%.5f)", d->city,
			    d->lat, d->lon);
	if (r->locker_or_station)
		add_finding(r, r->consented ? "locker_consented" : "locker_no_consent",
			    d->facility_id, 0, "%s %s the customer's consent",
			    ev_code_name(d->code), r->consented ? "with" : "without");
	if (d->code == EV_DELIVERED && d->signed_by[0] && strcmp(d->signed_by, "recipient") != 0)
		add_finding(r, "signed_by_other", d->facility_id, 0, "signed by %s", d->signed_by);
}

static bool loss_answers(const struct ev_answer *a, size_t na, const struct ev_result *r,
			 const struct ev_scan *s, struct ev_resp *resp)
{
	const struct ev_answer *x;
	if ((x = answer_with(a, na, "delivered_elsewhere")) ||
	    (x = answer_with(a, na, "not_delivered"))) {
		blame(resp, "delivery", "courier", r->courier_id, 85);
		add_reason(resp, "courier statement: %s", x->outcome);
	} else if ((x = answer_with(a, na, "lost"))) {
		blame_facility(resp, &s[r->last], r->last == 0, 80);
		add_reason(resp, "lost after the last scan at %s", s[r->last].facility_id);
	} else {
		return false;
	}
	return true;
}

static void assess_loss(const struct ev_scan *s, const struct ev_answer *a, size_t na,
			struct ev_result *r)
{
	loss_findings(s, r);
	if (loss_answers(a, na, r, s, &r->resp))
		return;
	const struct ev_scan *d = r->delivery >= 0 ? &s[r->delivery] : NULL;
	const struct ev_finding *other = ev_find(r, "signed_by_other");
	if (d && r->locker_or_station && !r->consented) {
		blame(&r->resp, "delivery", "courier", d->courier_id, 75);
		add_reason(&r->resp, "stored at %s without the customer's consent", d->facility_id);
	} else if (d && r->locker_or_station) {
		blame(&r->resp, "locker", "locker_operator", d->facility_id, 55);
		add_reason(&r->resp, "stored at %s with consent; ask for the locker records",
			   d->facility_id);
	} else if (d && other) {
		blame(&r->resp, "delivery", "courier", d->courier_id, 60);
		add_reason(&r->resp, "%s, not by the recipient", other->detail);
	} else if (d && !d->pod_ref[0]) {
		blame(&r->resp, "delivery", "courier", d->courier_id, 65);
		add_reason(&r->resp, "delivered without a proof-of-delivery photo");
	} else if (d) {
		blame(&r->resp, "delivery", "customer", "", 50);
		add_reason(&r->resp, "signed by the recipient with proof of delivery %s",
			   d->pod_ref);
	} else {
		blame_facility(&r->resp, &s[r->last], r->last == 0, 50);
		add_reason(&r->resp, "last seen at %s (%s)", s[r->last].facility_id,
			   ev_code_name(s[r->last].code));
	}
}

/* ---- the hand-over: unconsented locker or station, signed by someone not authorised ---- */

/* Signed by the addressee's own people (family, colleague): often with their leave, so the
 * scans alone are weaker evidence than a guard, a front desk or "other" signing. */
static bool signer_household(const char *who)
{
	return strcmp(who, "family") == 0 || strcmp(who, "colleague") == 0;
}

/* 不告而投: the scans say where the parcel was left and whether the customer agreed to it
 * (customer_consented on the locker or station scan). Without consent the courier who stored
 * it is the responsible party; with consent recorded the complaint is not borne out by the
 * scans and a person checks how that consent was given. */
static void assess_unconsented(const struct ev_scan *s, struct ev_result *r)
{
	const struct ev_scan *d = r->delivery >= 0 ? &s[r->delivery] : NULL;
	if (d && r->locker_or_station && !r->consented) {
		blame(&r->resp, "delivery", "courier", d->courier_id, 80);
		add_reason(&r->resp, "%s at %s without the customer's consent",
			   ev_code_name(d->code), d->facility_id);
	} else if (d && r->locker_or_station) {
		blame(&r->resp, "delivery", "customer", "", 55);
		add_reason(&r->resp,
			   "the scans record the customer's consent to %s at %s; a person checks "
			   "how it was given",
			   ev_code_name(d->code), d->facility_id);
	} else if (d) {
		blame(&r->resp, "delivery", "unknown", "", 20);
		add_reason(&r->resp, "the scans show %s at %s, not a locker or station",
			   ev_code_name(d->code), d->facility_id);
	} else {
		blame(&r->resp, "unknown", "unknown", "", 10);
		add_reason(&r->resp, "no locker, station or delivery scan yet");
	}
}

/* 代签: the delivered scan's signed_by says who signed. A guard, front desk, shop or anyone
 * "other" without the customer's consent on the scan puts it on the courier; the addressee's
 * family or colleague less firmly; the recipient's own signature with a proof-of-delivery
 * photo does not bear the complaint out. */
static void assess_proxy_signed(const struct ev_scan *s, struct ev_result *r)
{
	const struct ev_scan *d = r->delivery >= 0 ? &s[r->delivery] : NULL;
	bool other = d && d->code == EV_DELIVERED && d->signed_by[0] &&
		     strcmp(d->signed_by, "recipient") != 0;
	if (other && d->consented) {
		blame(&r->resp, "delivery", "customer", "", 55);
		add_reason(&r->resp,
			   "signed by %s with the customer's consent on the scan; a person checks "
			   "it",
			   d->signed_by);
	} else if (other) {
		blame(&r->resp, "delivery", "courier", d->courier_id,
		      signer_household(d->signed_by) ? 55 : 75);
		add_reason(&r->resp,
			   "signed by %s, not by the recipient, without a recorded consent",
			   d->signed_by);
	} else if (d && d->code == EV_DELIVERED && !d->pod_ref[0]) {
		blame(&r->resp, "delivery", "courier", d->courier_id, 60);
		add_reason(&r->resp, "no proof-of-delivery photo shows who signed");
	} else if (d && d->code == EV_DELIVERED) {
		blame(&r->resp, "delivery", "customer", "", 50);
		add_reason(&r->resp, "signed by the recipient with proof of delivery %s",
			   d->pod_ref);
	} else if (d) {
		blame(&r->resp, "delivery", "unknown", "", 20);
		add_reason(&r->resp, "the scans show %s at %s, not a signature",
			   ev_code_name(d->code), d->facility_id);
	} else {
		blame(&r->resp, "unknown", "unknown", "", 10);
		add_reason(&r->resp, "no delivery scan yet");
	}
}

static void answer_findings(const struct ev_answer *a, size_t na, struct ev_result *r)
{
	for (size_t i = 0; i < na; i++)
		add_finding(r,
			    strcmp(a[i].kind, "courier_statement") == 0 ? "courier_statement"
									: "surveillance_answer",
			    a[i].facility_id, 0, "%s%s", a[i].outcome, a[i].late ? " (late)" : "");
}

static void set_slice(size_t n, enum ev_kind kind, const struct ev_policy *pol, struct ev_result *r)
{
	bool whole = kind == EV_KIND_DELAY || kind == EV_KIND_DAMAGE;
	r->slice_to = n;
	r->slice_from = whole || n <= pol->slice_scans ? 0 : n - pol->slice_scans;
}

void ev_assess(struct ev_scan *s, size_t n, const char *subcategory,
	       const struct ev_answer *answers, size_t nanswers, const struct ev_policy *pol,
	       int64_t now_ms, struct ev_result *r)
{
	struct stay stays[MAX_STAYS];
	memset(r, 0, sizeof(*r));
	r->last = r->delivery = -1;
	r->courier_id = "";
	if (n == 0) {
		add_finding(r, "no_tracking", "", 0, "no tracking data for this waybill yet");
		blame(&r->resp, "unknown", "unknown", "", 0);
		add_reason(&r->resp, "no tracking data: responsibility cannot be judged yet");
		return;
	}
	sort_scans(s, n);
	r->tracking_found = true;
	basic_facts(s, n, r);
	size_t k = find_stays(s, n, stays);
	list_facilities(s, stays, k, r);
	enum ev_kind kind = ev_kind_of(subcategory);
	set_slice(n, kind, pol, r);
	if (kind != EV_KIND_DAMAGE)
		find_stuck(s, n, pol, now_ms, r);
	if (kind == EV_KIND_DELAY) {
		find_missed(s, stays, k, r);
		find_causes(s, n, r);
	}
	answer_findings(answers, nanswers, r);
	if (kind == EV_KIND_DELAY)
		assess_delay(s, n, stays, k, pol, now_ms, r);
	else if (kind == EV_KIND_DAMAGE)
		assess_damage(s, n, stays, k, answers, nanswers, r);
	else if (kind == EV_KIND_LOSS)
		assess_loss(s, answers, nanswers, r);
	else if (kind == EV_KIND_LAST_MILE) {
		/* the same facts as a loss (who signed, where it was left, consent, photo); a
		 * courier's statement answers either way, so an answer decides as for a loss */
		loss_findings(s, r);
		if (!loss_answers(answers, nanswers, r, s, &r->resp)) {
			if (strcmp(subcategory, "proxy_signed") == 0)
				assess_proxy_signed(s, r);
			else
				assess_unconsented(s, r);
		}
	} else {
		blame(&r->resp, "unknown", "unknown", "", 10);
		add_reason(&r->resp, "%s: a person judges from the trajectory", subcategory);
	}
	r->courier_statement =
	    (kind == EV_KIND_LOSS || kind == EV_KIND_LAST_MILE) && r->courier_id[0];
}
