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
};

const size_t farm_nroutes = sizeof(farm_routes) / sizeof(farm_routes[0]);
