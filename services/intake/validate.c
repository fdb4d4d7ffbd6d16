/* Pure validation and masking of complaints: no I/O, unit-tested directly. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "httpd.h"
#include "intake.h"
#include "redact.h"

static const char *const channels[] = {"qr",	 "web",	   "app",    "hotline", "email",
				       "social", "letter", "outlet", NULL};
static const char *const roles[] = {"sender", "recipient", NULL};
static const char *const types[] = {"damage", "delay", "loss", "other", NULL};
static const char *const goods_kinds[] = {"medicine",  "fresh_food", "documents", "electronics",
					  "valuables", "other",	     NULL};
static const char *const demands[] = {"reship",		"compensation", "apology",
				      "freight_refund", "information",	NULL};
static const char *const target_kinds[] = {"courier", "outlet", "sorting_centre", "line_haul",
					   "partner", "agent",	"locker",	  NULL};
static const char *const languages[] = {"zh-CN", "en", NULL};
static const char *const contacts[] = {"phone", "sms", "email", "app", "wechat", NULL};

static void err(json_t *errors, const char *field, const char *problem)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

static bool one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Copies a string member; reports wrong types, lengths and control characters. */
static bool get_str(const json_t *obj, const char *key, const char *field, bool required,
		    size_t max_chars, char *out, size_t cap, json_t *errors)
{
	char problem[96];
	const json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required)
			err(errors, field, "is required");
		return !required;
	}
	if (!json_is_string(v)) {
		err(errors, field, "must be a string");
		return false;
	}
	const char *s = json_string_value(v);
	size_t bytes = json_string_length(v);
	if (memchr(s, '\0', bytes)) {
		err(errors, field, "must not contain NUL characters");
		return false;
	}
	if (utf8_chars(s) > max_chars || bytes >= cap) {
		snprintf(problem, sizeof(problem), "is too long (at most %zu characters)",
			 max_chars);
		err(errors, field, problem);
		return false;
	}
	if (required && bytes == 0) {
		err(errors, field, "must not be empty");
		return false;
	}
	memcpy(out, s, bytes + 1);
	return true;
}

static void get_enum(const json_t *obj, const char *key, const char *field, bool required,
		     const char *const *set, const char *def, char *out, size_t cap, json_t *errors)
{
	char problem[200];
	if (!get_str(obj, key, field, required, 32, out, cap, errors))
		return;
	if (!out[0] && def) {
		snprintf(out, cap, "%s", def);
		return;
	}
	if (out[0] && !one_of(out, set)) {
		size_t n = (size_t)snprintf(problem, sizeof(problem), "unknown value; one of:");
		for (; *set && n < sizeof(problem); set++)
			n += (size_t)snprintf(problem + n, sizeof(problem) - n, " %s", *set);
		err(errors, field, problem);
	}
}

static void get_money(const json_t *obj, const char *key, const char *field, int64_t *out,
		      json_t *errors)
{
	const json_t *v = json_object_get(obj, key);
	*out = 0;
	if (!v || json_is_null(v))
		return;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 100000000000LL)
		err(errors, field, "must be a whole number of fen between 0 and 100000000000");
	else
		*out = json_integer_value(v);
}

static void get_bool(const json_t *obj, const char *key, const char *field, bool *out,
		     json_t *errors)
{
	const json_t *v = json_object_get(obj, key);
	*out = false;
	if (!v || json_is_null(v))
		return;
	if (!json_is_boolean(v))
		err(errors, field, "must be true or false");
	else
		*out = json_is_true(v);
}

bool intake_waybill_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 8 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]))
			return false;
	return true;
}

static size_t digits_only(const char *s, char *out, size_t cap, bool *bad)
{
	size_t n = 0;
	*bad = false;
	for (const char *p = s; *p; p++) {
		if (isdigit((unsigned char)*p) && n + 1 < cap)
			out[n++] = *p;
		else if (*p != ' ' && *p != '-' && !(*p == '+' && p == s))
			*bad = true;
	}
	out[n] = '\0';
	return n;
}

bool intake_phone_valid(const char *s)
{
	char d[32];
	bool bad;
	size_t n = digits_only(s, d, sizeof(d), &bad);
	if (bad || n == 0)
		return false;
	if (s[0] == '+')
		return n >= 8 && n <= 15;
	if (n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9')
		return true;			  /* mainland mobile */
	return d[0] == '0' && n >= 10 && n <= 12; /* landline with area code */
}

static void parse_list(const json_t *obj, const char *key, const char *field,
		       const char *const *set, char (*out)[16], int max, int *n, json_t *errors)
{
	char f[64];
	const json_t *arr = json_object_get(obj, key);
	size_t i;
	const json_t *v;
	*n = 0;
	if (!arr || json_is_null(arr))
		return;
	if (!json_is_array(arr) || json_array_size(arr) > (size_t)max) {
		snprintf(f, sizeof(f), "must be an array of at most %d values", max);
		err(errors, field, f);
		return;
	}
	json_array_foreach (arr, i, v) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (!json_is_string(v) || !one_of(json_string_value(v), set)) {
			err(errors, f, "unknown value");
			continue;
		}
		snprintf(out[(*n)++], 16, "%s", json_string_value(v));
	}
}

static void parse_complainant(const json_t *body, struct intake_input *in, json_t *errors)
{
	const json_t *c = json_object_get(body, "complainant");
	if (!json_is_object(c)) {
		err(errors, "complainant", "is required (an object with name, phone and role)");
		return;
	}
	get_str(c, "name", "complainant.name", true, 50, in->name, sizeof(in->name), errors);
	if (get_str(c, "phone", "complainant.phone", true, 20, in->phone, sizeof(in->phone),
		    errors) &&
	    !intake_phone_valid(in->phone))
		err(errors, "complainant.phone",
		    "is not a phone number (mainland mobile 1xxxxxxxxxx, landline 0xx-xxxxxxxx, "
		    "or +country number)");
	get_enum(c, "role", "complainant.role", true, roles, NULL, in->role, sizeof(in->role),
		 errors);
	get_enum(c, "language", "complainant.language", false, languages, "zh-CN", in->language,
		 sizeof(in->language), errors);
	get_enum(c, "preferred_contact", "complainant.preferred_contact", false, contacts, "phone",
		 in->preferred_contact, sizeof(in->preferred_contact), errors);
	get_str(c, "outlet_id", "complainant.outlet_id", false, 60, in->outlet_id,
		sizeof(in->outlet_id), errors);
}

static void parse_impact(const json_t *body, struct intake_input *in, json_t *errors)
{
	const json_t *im = json_object_get(body, "impact");
	if (!im || json_is_null(im))
		return;
	if (!json_is_object(im)) {
		err(errors, "impact", "must be an object");
		return;
	}
	parse_list(im, "goods", "impact.goods", goods_kinds, in->goods, INTAKE_MAX_GOODS,
		   &in->ngoods, errors);
	get_money(im, "declared_value_fen", "impact.declared_value_fen", &in->declared_value_fen,
		  errors);
	get_bool(im, "perishable", "impact.perishable", &in->perishable, errors);
	get_bool(im, "insured", "impact.insured", &in->insured, errors);
	get_money(im, "insured_value_fen", "impact.insured_value_fen", &in->insured_value_fen,
		  errors);
	get_money(im, "freight_fen", "impact.freight_fen", &in->freight_fen, errors);
}

static void parse_target(const json_t *body, struct intake_input *in, json_t *errors)
{
	const json_t *t = json_object_get(body, "target");
	if (!t || json_is_null(t))
		return;
	if (!json_is_object(t)) {
		err(errors, "target", "must be an object with kind and id");
		return;
	}
	get_enum(t, "kind", "target.kind", true, target_kinds, NULL, in->target_kind,
		 sizeof(in->target_kind), errors);
	get_str(t, "id", "target.id", false, 60, in->target_id, sizeof(in->target_id), errors);
}

static void parse_attachments(const json_t *body, struct intake_input *in, json_t *errors)
{
	const json_t *a = json_object_get(body, "attachments");
	size_t i;
	const json_t *v;
	snprintf(in->attachments_json, sizeof(in->attachments_json), "[]");
	if (!a || json_is_null(a))
		return;
	if (!json_is_array(a) || json_array_size(a) > 10) {
		err(errors, "attachments", "must be an array of at most 10 references");
		return;
	}
	json_array_foreach (a, i, v)
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 200) {
			err(errors, "attachments",
			    "each reference must be a string of 1 to 200 bytes");
			return;
		}
	char *s = json_dumps(a, JSON_COMPACT);
	if (s && strlen(s) < sizeof(in->attachments_json))
		snprintf(in->attachments_json, sizeof(in->attachments_json), "%s", s);
	else
		err(errors, "attachments", "are too long");
	free(s);
	in->nattachments = (int)json_array_size(a);
}

bool intake_parse(const json_t *body, struct intake_input *in, json_t *errors)
{
	memset(in, 0, sizeof(*in));
	get_enum(body, "channel", "channel", true, channels, NULL, in->channel, sizeof(in->channel),
		 errors);
	if (get_str(body, "waybill_no", "waybill_no", true, 20, in->waybill_no,
		    sizeof(in->waybill_no), errors) &&
	    !intake_waybill_valid(in->waybill_no))
		err(errors, "waybill_no", "must be 8 to 20 capital letters or digits");
	parse_complainant(body, in, errors);
	get_str(body, "description", "description", true, INTAKE_DESCRIPTION_MAX, in->description,
		sizeof(in->description), errors);
	get_enum(body, "type", "type", true, types, NULL, in->type, sizeof(in->type), errors);
	parse_impact(body, in, errors);
	parse_list(body, "demand", "demand", demands, in->demand, INTAKE_MAX_DEMAND, &in->ndemand,
		   errors);
	parse_target(body, in, errors);
	parse_attachments(body, in, errors);
	return json_array_size(errors) == 0;
}

void intake_mask_phone(const char *phone, char *out, size_t cap)
{
	size_t n = strlen(phone);
	if (n < 7) {
		snprintf(out, cap, "****");
		return;
	}
	snprintf(out, cap, "%.3s****%s", phone, phone + n - 4);
}

void intake_mask_name(const char *name, char *out, size_t cap)
{
	size_t first = 1;
	while (name[first] && ((unsigned char)name[first] & 0xc0) == 0x80)
		first++;
	snprintf(out, cap, "%.*s*", (int)first, name);
}

void intake_redact(const char *text, const char *name, char *out, size_t cap)
{
	redact_text(text, name, "[phone]", out, cap);
}

int intake_initial_priority(const struct intake_input *in)
{
	int p = 4;
	for (int i = 0; i < in->ngoods; i++)
		if (strcmp(in->goods[i], "medicine") == 0 ||
		    strcmp(in->goods[i], "fresh_food") == 0)
			p = 2;
	if (in->perishable && p > 2)
		p = 2;
	if (in->declared_value_fen >= 500000 && p > 3)
		p = 3;
	return p;
}

bool intake_filing_window_ok(int64_t picked_up_ms, int64_t now_ms, long long window_days,
			     const char *picked_up_text, char *problem, size_t cap)
{
	int64_t limit_ms = picked_up_ms + (int64_t)window_days * 86400000LL;
	if (now_ms <= limit_ms)
		return true;
	snprintf(problem, cap,
		 "the parcel was picked up at %s; complaints may be filed within %lld days of "
		 "pickup and that time has passed",
		 picked_up_text, window_days);
	return false;
}

char *intake_target_json(const struct intake_input *in)
{
	if (!in->target_kind[0])
		return NULL;
	json_t *t = json_pack("{s:s, s:s}", "kind", in->target_kind, "id", in->target_id);
	char *out = t ? json_dumps(t, JSON_COMPACT) : NULL;
	json_decref(t);
	return out;
}

bool intake_contact_entitled(const struct auth_principal *who, const char *owner,
			     const char *entered_by)
{
	if (who->role & (AUTH_SUPERVISOR | AUTH_ADMIN))
		return true;
	if (!(who->role & AUTH_AGENT) || !who->staff_id[0])
		return false;
	return (owner && strcmp(owner, who->staff_id) == 0) ||
	       (entered_by && strcmp(entered_by, who->staff_id) == 0);
}
