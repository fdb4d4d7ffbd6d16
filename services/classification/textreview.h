/* The text reader's part of a classification in the database (textreview.c): the model's
 * reading stored with the choice, shown with GET, and a person's confirmation or correction
 * kept as a labelled example (classification.labelled_examples). */
#ifndef CP_TEXTREVIEW_H
#define CP_TEXTREVIEW_H

#include <jansson.h>
#include <libpq-fe.h>

#include "classification.h"
#include "httpd.h"

/* Stores what read the text, the model's probability, the review flag and the redacted text
 * with the classification just inserted. Runs in the consumer's transaction (the caller rolls
 * back on -1). 0 or -1. */
int textreview_store(PGconn *pg, const Cp__ComplaintReceived *c, const struct classify_result *r)
    __attribute__((warn_unused_result));

/* Adds "text_reader", "text_probability" (null without a model reading), "needs_review" and
 * "review" ({"by","at","original_subcategory"} or null) to j, the GET reply of complaint_no.
 * Leaves j as it is when the row cannot be read. */
void textreview_decorate(PGconn *db, const char *complaint_no, json_t *j);
/* The same, returning j (for use in a reply expression). */
json_t *textreview_decorated(PGconn *db, const char *complaint_no, json_t *j);

/* PUT /v1/complaints/{no}/classification {"subcategory": "..."}: the owner of the accepted
 * case, a supervisor or an admin sets the sub-category (and so the category); the review flag
 * is cleared and the text with the person's label is stored as a labelled example.
 * 200 {"complaint_no","category","subcategory","previous_subcategory","needs_review",
 * "labelled_example_id"}; 422 unknown sub-category; 403 not_owner / conflict_of_interest;
 * 404. */
void textreview_put(struct http_req *r, void *arg);

/* GET /v1/classification-reviews: the classifications marked needs_review, oldest first (at
 * most 200): an agent's own cases, every case for a supervisor or admin.
 * 200 {"reviews":[{"complaint_no","category","subcategory","text_subcategory",
 * "text_probability","owner_staff_id","classified_at"}]}. */
void textreview_queue(struct http_req *r, void *arg);

#endif
