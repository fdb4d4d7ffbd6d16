/* The topics of the system: <domain>.<event>.v1. Each service announces on its own topic. */
#ifndef CP_TOPICS_H
#define CP_TOPICS_H

#define TOPIC_RECEIVED	       "complaint.received.v1"
#define TOPIC_CLASSIFIED       "complaint.classified.v1"
#define TOPIC_EVIDENCE	       "complaint.evidence.v1"
#define TOPIC_RESOLUTION       "complaint.resolution.v1"
#define TOPIC_FOLLOWUP	       "complaint.followup.v1"
#define TOPIC_SLA	       "complaint.sla.v1"
#define TOPIC_TRACKING	       "parcel.tracking.v1"
#define TOPIC_PARCEL_EXCEPTION "parcel.exception.v1"
#define TOPIC_EVIDENCE_REQUEST "complaint.evidence_request.v1"
#define TOPIC_EXECUTION	       "complaint.execution.v1"
#define TOPIC_DEADLETTER       "complaint.deadletter.v1"

#define TOPICS_COUNT 11
extern const char *const topics_all[TOPICS_COUNT];

#endif
