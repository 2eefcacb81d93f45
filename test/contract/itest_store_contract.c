/*
 * The store contract (store_contract.h) against the PostgreSQL adapter: each case gets a new
 * blocking session on QUILL_TEST_DATABASE_URL.
 */
#include "contract/store_contract.h"
#include "integration/itest.h"

static const char *url;
static struct ql_db_session *session; /* the open case's (cases run one at a time) */

static struct ql_store *open_pg(void)
{
    session = itest_session(url, QL_DB_BLOCKING);
    return ql_db_store(session);
}

static void close_pg(struct ql_store *s)
{
    (void)s;
    ql_db_session_destroy(session);
    session = NULL;
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct contract_backend pg = {"PostgreSQL", open_pg, close_pg};
    return store_contract_run(&pg, argc, argv);
}
