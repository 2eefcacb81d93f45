/*
 * routes.c - the routing table of quill-api.  Every route here must appear in the
 * OpenAPI document (apps/api/openapi.json) and the suite checks both directions.
 * Order matters only where a literal segment and a parameter share a position: the
 * literal route comes first.
 */
#include "internal.h"

void ql__h_livez(struct ql_http_req *r);
void ql__h_readyz(struct ql_http_req *r);
void ql__h_metrics(struct ql_http_req *r);
void ql__h_version(struct ql_http_req *r);
void ql__h_openapi(struct ql_http_req *r);

#define GET QL_HTTP_GET
#define POST QL_HTTP_POST
#define PATCH QL_HTTP_PATCH
#define PUT QL_HTTP_PUT
#define DELETE QL_HTTP_DELETE
#define POOL QL_ROUTE_POOL
#define BODY QL_ROUTE_BODY

const struct ql_http_route ql__http_routes[] = {
    {GET, "/livez", ql__h_livez, 0},
    {GET, "/readyz", ql__h_readyz, POOL},
    {GET, "/metrics", ql__h_metrics, 0},
    {GET, "/v1/version", ql__h_version, 0},
    {GET, "/v1/openapi.json", ql__h_openapi, 0},
};

const int ql__http_nroutes = (int)(sizeof(ql__http_routes) / sizeof(ql__http_routes[0]));
