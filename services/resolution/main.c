/* cp-resolution: remedies, compensation, approvals and their execution. */
#include "audit.h"
#include "auth.h"
#include "resolution.h"
#include "svc.h"

static const struct http_route resolution_routes[] = {
    {"GET", "/v1/complaints/{}/proposals", res_list_proposals, true, AUTH_STAFF},
    {"GET", "/v1/proposals/{}", res_get_proposal, true, AUTH_STAFF},
    {"POST", "/v1/proposals/{}/accept", res_accept, true, AUTH_STAFF},
    {"POST", "/v1/proposals/{}/approve", res_approve, true, AUTH_SUPERVISORS},
    {"POST", "/v1/proposals/{}/reject", res_reject, true, AUTH_SUPERVISORS},
    {"POST", "/v1/proposals/{}/amend", res_amend, true, AUTH_STAFF},
    {"POST", "/v1/executions/{}/confirm", res_confirm_execution, true,
     AUTH_INTEGRATION | AUTH_ADMIN},
    {"GET", "/v1/auto-settlement-rules", res_list_rules, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/auto-settlement-rules/{}", res_put_rule, true, AUTH_ADMIN},
    {"GET", "/v1/compensation-policies", res_list_compensation_policies, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/compensation-policies/{}", res_put_compensation_policy, true, AUTH_ADMIN},
    {"GET", "/v1/authority-limits", res_list_authority_limits, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/authority-limits/{}", res_put_authority_limit, true, AUTH_ADMIN},
    {"GET", "/v1/admin/audit/resolution", audit_http_list, true, AUTH_SUPERVISORS},
};

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"cases", "complaint_id"};
	const struct svc_def def = {
	    .name = "resolution",
	    .ids = &ids,
	    .summary = "proposes remedies and compensation, gets them approved and executed",
	    .default_port = 8084,
	    .handlers = resolution_handlers,
	    .nhandlers = resolution_nhandlers,
	    .sets = resolution_set_handlers,
	    .nsets = resolution_nset_handlers,
	    .routes = resolution_routes,
	    .nroutes = sizeof(resolution_routes) / sizeof(resolution_routes[0]),
	};
	return svc_main(argc, argv, &def);
}
