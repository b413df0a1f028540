/* farm-fcgi-routes.c - every route of the API, in one table. */
#include "farm-fcgi.h"

#define AUTH FARM_ROUTE_AUTH
#define ADMIN (FARM_ROUTE_AUTH | FARM_ROUTE_ADMIN)
#define JSON FARM_ROUTE_JSON

const struct farm_route farm_routes[] = {
	{"GET", "/api/v1/health", farm_h_health, 0},
	{"GET", "/api/v1/__debug/sleep", farm_h_debug_sleep, 0},

	{"GET", "/api/v1/integrations/credentials", farm_h_creds_list, AUTH},
	{"POST", "/api/v1/integrations/credentials", farm_h_creds_create, ADMIN | JSON},
	{"PATCH", "/api/v1/integrations/credentials/:id", farm_h_creds_patch, ADMIN | JSON},
	{"DELETE", "/api/v1/integrations/credentials/:id", farm_h_creds_delete, ADMIN},

	/* Webhooks: no JWT, each platform's own proof (farm-fcgi-webhooks.c). */
	{"POST", "/api/v1/webhooks/circleci", farm_h_webhook_circleci, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/circleci/:credentialId", farm_h_webhook_circleci, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/jenkins", farm_h_webhook_jenkins, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/jenkins/:credentialId", farm_h_webhook_jenkins, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/travisci", farm_h_webhook_travisci, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/travisci/:credentialId", farm_h_webhook_travisci, FARM_ROUTE_BODY},

	/* Operators only, outside /api/v1: nginx's `location = /farm-status` (loopback). */
	{"GET", "/farm-status", farm_h_status, 0},

	/* Platforms, with the caller's org credential (farm-fcgi-providers.c). */
	{"GET", "/api/v1/argocd/applications", farm_h_argocd_apps, AUTH},
	{"GET", "/api/v1/argocd/applications/:name", farm_h_argocd_app, AUTH},
	{"POST", "/api/v1/argocd/applications/:name/sync", farm_h_argocd_sync, ADMIN},
	{"GET", "/api/v1/circleci/pipelines", farm_h_circleci_pipelines, AUTH},
	{"POST", "/api/v1/circleci/pipelines/:slug/trigger", farm_h_circleci_trigger, ADMIN},
	{"GET", "/api/v1/jenkins/jobs", farm_h_jenkins_jobs, AUTH},
	{"GET", "/api/v1/jenkins/jobs/:name/builds", farm_h_jenkins_builds, AUTH},
	{"POST", "/api/v1/jenkins/jobs/:name/build", farm_h_jenkins_build, ADMIN},
	{"GET", "/api/v1/travisci/builds", farm_h_travisci_builds, AUTH},
	{"POST", "/api/v1/travisci/builds/:id/restart", farm_h_travisci_restart, ADMIN},

	/* Catalog links to Argo CD, the CI/CD tab, Argo CD notifications (farm-fcgi-catalog.c). */
	{"GET", "/api/v1/catalog/components", farm_h_catalog_list, AUTH},
	{"GET", "/api/v1/catalog/components/:id", farm_h_catalog_get, AUTH},
	{"PATCH", "/api/v1/catalog/components/:id", farm_h_catalog_patch, ADMIN | JSON},
	{"GET", "/api/v1/catalog/components/:id/cicd", farm_h_catalog_cicd, AUTH},
	{"POST", "/api/v1/webhooks/argocd", farm_h_webhook_argocd, FARM_ROUTE_BODY},
	{"POST", "/api/v1/webhooks/argocd/:credentialId", farm_h_webhook_argocd, FARM_ROUTE_BODY},

	/* Pipelines and runs; farm-runner executes them (farm-fcgi-pipelines.c). */
	{"GET", "/api/v1/pipelines", farm_h_pipelines_list, AUTH},
	{"POST", "/api/v1/pipelines", farm_h_pipelines_create, ADMIN | JSON},
	{"GET", "/api/v1/pipelines/:id", farm_h_pipeline_get, AUTH},
	{"GET", "/api/v1/pipelines/:id/runs", farm_h_runs_list, AUTH},
	{"POST", "/api/v1/pipelines/:id/runs", farm_h_runs_create, ADMIN | JSON},
	{"GET", "/api/v1/pipelines/:id/runs/:runId", farm_h_run_get, AUTH},
	{"GET", "/api/v1/pipelines/:id/runs/:runId/log", farm_h_run_log, AUTH},

	/* The board and the history for pollers (farm-fcgi-board.c).  cctray.xml checks
	 * its own auth: Bearer, or the JWT as HTTP Basic password. */
	{"GET", "/api/v1/projects", farm_h_board_projects, AUTH},
	{"GET", "/api/v1/cctray.xml", farm_h_board_cctray, 0},
	{"GET", "/api/v1/events", farm_h_events_list, AUTH},
};

const size_t farm_nroutes = sizeof(farm_routes) / sizeof(farm_routes[0]);
