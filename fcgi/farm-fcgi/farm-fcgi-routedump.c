/* farm-fcgi-routedump.c - `farm-fcgi --routes`: the live route table, one line a route.
 *
 *   METHOD PATTERN FLAGS      e.g. "POST /api/v1/integrations/credentials auth,admin,json"
 *
 * FLAGS are the route's policy words (auth, admin, json, body, adminloc) joined by
 * commas, or "-" for none.  t/t8000-openapi.sh compares these lines with the
 * operations of docs/openapi.json, so the document cannot drift from the table,
 * whoever adds the rows (hand-written or generated from platform descriptors). */
#include "farm-fcgi.h"

#include <stdio.h>

#include "banned.h"

static const struct {
	unsigned bit;
	const char *word;
} flag_words[] = {
	{FARM_ROUTE_AUTH, "auth"},   {FARM_ROUTE_ADMIN, "admin"},	{FARM_ROUTE_JSON, "json"},
	{FARM_ROUTE_BODY, "body"},   {FARM_ROUTE_ADMINLOC, "adminloc"},
};

int farm_routes_print(FILE *fp, const struct farm_route *table, size_t n)
{
	if (!table)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned left = table[i].flags;
		int any = 0;

		fprintf(fp, "%s %s ", table[i].method, table[i].pattern);
		for (size_t k = 0; k < sizeof(flag_words) / sizeof(flag_words[0]); k++) {
			if (!(left & flag_words[k].bit))
				continue;
			fprintf(fp, "%s%s", any ? "," : "", flag_words[k].word);
			left &= ~flag_words[k].bit;
			any = 1;
		}
		if (left) /* a flag this dump does not know yet: say so, the test fails on it */
			fprintf(fp, "%s0x%x", any ? "," : "", left);
		else if (!any)
			fputs("-", fp);
		fputc('\n', fp);
	}
	return fflush(fp) == 0 && !ferror(fp) ? 0 : 1;
}
