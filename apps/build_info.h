/*
 * build_info.h - facts fixed at build time (generated into build_info.c by
 * tools/gen_build_info.py): the bill of materials and the schema version the build expects.
 */
#ifndef QL_BUILD_INFO_H
#define QL_BUILD_INFO_H

/* {"version","gitSha","builtAt","dependencies":{...}} */
extern const char ql_version_json[];
/* The version alone ("0.1.0"). */
extern const char ql_version[];
/* The highest migration version in migrations/ when this binary was built. */
extern const long long ql_schema_version;
/* The OpenAPI 3.1 document (apps/api/openapi.json), minified. */
extern const char ql_openapi_json[];
/* The operator dashboard page (apps/api/admin.html). */
extern const char ql_admin_html[];
/* Its CSP sources: script-src and style-src naming its inline script and style by hash. */
extern const char ql_admin_html_csp[];

#endif
