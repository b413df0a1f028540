/* test-candor.c - lib/platform/candor: pipeline and run ids, farm's runId
 * (<pipelineId>#<runId>) as the runs hooks parse it, and the descriptor (credential
 * fields, status words, no cancel). */
#include "candor.h"

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "tap.h"

#include "banned.h"

int main(void)
{
	char why[128];
	const struct farm_platform *p = farm_platform_find("candor");

	farm_json_init();
	ok(farm_candor_pipeline_id_ok("1") && farm_candor_pipeline_id_ok("123456789012345678"),
	   "pipeline ids: 1..18 digits");
	ok(!farm_candor_pipeline_id_ok("0") && !farm_candor_pipeline_id_ok("01") &&
		   !farm_candor_pipeline_id_ok("") && !farm_candor_pipeline_id_ok("-1") &&
		   !farm_candor_pipeline_id_ok("1234567890123456789") &&
		   !farm_candor_pipeline_id_ok("1 ") && !farm_candor_pipeline_id_ok(NULL),
	   "pipeline ids: no zero, leading zero, sign, space, 19 digits, empty");
	ok(farm_candor_run_id_ok("last") && farm_candor_run_id_ok("0badc0de") &&
		   farm_candor_run_id_ok("a_b-C"),
	   "run ids: last, hex, [A-Za-z0-9_-]");
	ok(!farm_candor_run_id_ok("") && !farm_candor_run_id_ok("../x") &&
		   !farm_candor_run_id_ok("a b") && !farm_candor_run_id_ok("a%2F") &&
		   !farm_candor_run_id_ok("a?b"),
	   "run ids: nothing that could leave the path segment");
	is_int(farm_candor_runs_parse("12#0badc0de", why, sizeof(why)), 0, "runId: 12#0badc0de");
	is_int(farm_candor_runs_parse("12#last", why, sizeof(why)), 0, "runId: 12#last");
	ok(farm_candor_runs_parse("12", why, sizeof(why)) != 0, "runId: no '#'");
	is_str(why, "a Candor runId is <pipelineId>#<runId>", "runId: the message");
	ok(farm_candor_runs_parse("#abc", why, sizeof(why)) && farm_candor_runs_parse("1#", why,
										sizeof(why)) &&
		   farm_candor_runs_parse("01#abc", why, sizeof(why)) &&
		   farm_candor_runs_parse("1#a#b", why, sizeof(why)) &&
		   farm_candor_runs_parse("1234567890123456789#a", why, sizeof(why)) &&
		   farm_candor_runs_parse("1/..#a", why, sizeof(why)),
	   "runId: empty parts, a leading zero, two '#', too long, a path");
	ok(p && p->runs && p->runs->get && p->runs->rerun && p->runs->log && !p->runs->cancel,
	   "descriptor: get, rerun, log; no cancel");
	ok(p && !strcmp(p->fields[0].name, "url") && (p->fields[0].flags & FARM_CRED_URL) &&
		   !strcmp(p->fields[2].name, "password") &&
		   (p->fields[2].flags & FARM_CRED_SECRET) && !strcmp(p->fields[5].name, "runnerToken") &&
		   (p->fields[5].flags & FARM_CRED_SECRET) && !(p->fields[5].flags & FARM_CRED_REQUIRED),
	   "descriptor: url, username, password (secret), ..., runnerToken (secret, optional)");
	is_str(farm_event_status("candor", "run", "Passed"), "success", "status: run Passed");
	is_str(farm_event_status("candor", "run", "Error"), "error", "status: run Error");
	is_str(farm_event_status("candor", "stage", "Skipped"), "unknown", "status: stage Skipped");
	is_str(farm_event_status("candor", "run", "Exploded"), "unknown", "status: unknown word");
	return done_testing();
}
