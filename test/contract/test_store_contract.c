/* The store contract (store_contract.h) against the fake store of test/fakes/. */
#include "contract/store_contract.h"
#include "fakes/fakes.h"

#include <stdlib.h>

static struct ql_store *open_fake(void)
{
    struct fake_store *s = malloc(sizeof(*s));
    if (s == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }
    fake_store_init(s);
    return &s->base;
}

static void close_fake(struct ql_store *s)
{
    fake_store_cleanup((struct fake_store *)s);
    free(s);
}

int main(int argc, char **argv)
{
    static const struct contract_backend fake = {"the fake store", open_fake, close_fake};
    return store_contract_run(&fake, argc, argv);
}
