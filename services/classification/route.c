/* Pure routing: the nearest staff to where the complaint is. No I/O. */
#include <math.h>
#include <stdlib.h>

#include "classification.h"

#define EARTH_RADIUS_KM 6371.0

double route_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	const double rad = M_PI / 180.0;
	double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
	double a = sin(dlat / 2) * sin(dlat / 2) +
		   cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
	return 2 * EARTH_RADIUS_KM * atan2(sqrt(a), sqrt(1 - a));
}

/* The distance used for ordering: unknown locations sort after every known one. */
static double rank_of(bool has_origin, double lat, double lon, const struct route_staff *s)
{
	if (!has_origin)
		return 0;
	if (!s->has_location)
		return INFINITY;
	return route_distance_km(lat, lon, s->lat, s->lon);
}

size_t route_nearest(bool has_origin, double lat, double lon, const struct route_staff *staff,
		     size_t n, size_t k, size_t *out)
{
	size_t chosen = 0;
	bool *used = calloc(n ? n : 1, sizeof(*used));
	if (!used)
		return 0;
	/* k is small (three): selection beats sorting and keeps the given order on ties */
	while (chosen < k && chosen < n) {
		size_t best = n;
		double best_d = 0;
		for (size_t i = 0; i < n; i++) {
			double d = rank_of(has_origin, lat, lon, &staff[i]);
			if (!used[i] && (best == n || d < best_d)) {
				best = i;
				best_d = d;
			}
		}
		used[best] = true;
		out[chosen++] = best;
	}
	free(used);
	return chosen;
}
