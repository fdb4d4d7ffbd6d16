/* cp-intake: the public complaint API and the customer's view of the case. */
#include <string.h>

#include "intake.h"
#include "svc.h"

struct intake_config intake_cfg;

static const struct cfg_entry intake_table[] = {
    {"PSEUDONYM_KEY", CFG_SECRET, "dev-only-pseudonym-key", 0, 0,
     "HMAC key turning phone numbers into the pseudonymous customer_ref carried by events",
     &intake_cfg.pseudonym_key},
    {"CUSTOMER_LINK_SECRET", CFG_SECRET, "dev-only-link-secret", 0, 0,
     "HMAC key signing the token in the customer's case link", &intake_cfg.link_secret},
    {"PUBLIC_BASE_URL", CFG_STR, "http://127.0.0.1:8080", 0, 0,
     "base URL of the front door, used in the customer's link", &intake_cfg.public_base_url},
    {"REPEAT_WINDOW_DAYS", CFG_INT, "30", 1, 365,
     "a complaint about the same waybill and type this many days after closure is a repeat",
     &intake_cfg.repeat_window_days},
    {"FILING_WINDOW_DAYS", CFG_INT, "365", 1, 3650,
     "complaints may be filed this many days after pickup", &intake_cfg.filing_window_days},
};

static const struct http_route intake_routes[] = {
    {"POST", "/v1/complaints", intake_post_complaint, true},
    {"GET", "/v1/complaints/{}", intake_get_complaint, true},
    {"GET", "/v1/staff/complaints", intake_staff_list_complaints, true},
    {"POST", "/v1/staff/complaints", intake_staff_post_complaint, true},
    {"GET", "/v1/staff/complaints/{}", intake_staff_get_case, true},
    {"POST", "/v1/complaints/{}/notes", intake_post_note, true},
};

int main(int argc, char **argv)
{
	const struct svc_def def = {
	    .name = "intake",
	    .summary = "takes complaints from every channel and shows customers their case",
	    .default_port = 8081,
	    .cfg = intake_table,
	    .ncfg = sizeof(intake_table) / sizeof(intake_table[0]),
	    .handlers = intake_handlers,
	    .nhandlers = intake_nhandlers,
	    .routes = intake_routes,
	    .nroutes = sizeof(intake_routes) / sizeof(intake_routes[0]),
	};
	return svc_main(argc, argv, &def);
}
