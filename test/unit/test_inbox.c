/* Unit tests of which revocations end a live stream (adapters/http/inbox.c). */
#include "http/internal.h"
#include "model/model.h"
#include "test.h"
#include "uuid/uuid.h"

#include <string.h>

static struct ql_uuid id_of(uint8_t b)
{
    struct ql_uuid u;
    memset(u.b, b, sizeof(u.b));
    return u;
}

static void key_of(char kind, const struct ql_uuid *u, char *out)
{
    out[0] = kind;
    out[1] = ':';
    ql_uuid_format(u, out + 2);
}

/*
 * A key names the stream's user, key or team; "*" (the notification port merged the
 * revocations waiting when too many did) names every stream, so none outlives one.
 */
static void test_a_revocation_names_its_streams_and_star_names_all(void)
{
    struct ql__reader user = {.team = id_of(1), .kind = QL_PRINCIPAL_USER, .user = id_of(2)};
    struct ql__reader key = {
        .team = id_of(1), .kind = QL_PRINCIPAL_API_KEY, .credential = id_of(3)};
    char k[64];
    key_of('u', &user.user, k);
    ASSERT_TRUE(ql__revoked(&user, k));
    ASSERT_TRUE(!(ql__revoked(&key, k)));
    key_of('k', &key.credential, k);
    ASSERT_TRUE(ql__revoked(&key, k));
    ASSERT_TRUE(!(ql__revoked(&user, k)));
    key_of('t', &user.team, k);
    ASSERT_TRUE(ql__revoked(&user, k) && ql__revoked(&key, k));
    struct ql_uuid other = id_of(9);
    key_of('t', &other, k);
    ASSERT_TRUE(!(ql__revoked(&user, k) || ql__revoked(&key, k)));
    ASSERT_TRUE(ql__revoked(&user, "*") && ql__revoked(&key, "*"));
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_revocation_names_its_streams_and_star_names_all),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
