/*
 * sodium_auth.c - libsodium behind the auth port.  sodium_init() is called by the
 * constructor (it is idempotent and thread-safe after the first call).
 *
 * Password hashing (argon2id) is deliberately slow and memory-hungry, so it does not run
 * on the calling thread: a few "slow" threads, as many as there are cores, run it at a
 * lower scheduling priority (nice +10) and the caller waits.  Two things follow: at most
 * that many hashes (and their memory) are in flight however many pool threads log users
 * in, and the event loops, at normal priority, keep getting the CPU while logins
 * saturate it, so cheap requests stay fast.
 */
#include "sodium_auth.h"
#include "sha1.h"

#include "err/err.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SLOW_NICE 10
#define SLOW_MAX 16

struct slow_job {
    struct slow_job *next;
    int verify; /* 0: hash into out; 1: verify against hash */
    const char *pw;
    size_t n;
    const char *hash;
    char *out;
    int rc;
    int done;
    pthread_cond_t cond;
};

struct sodium_auth {
    struct ql_auth base;
    uint8_t key[crypto_generichash_KEYBYTES_MAX];
    size_t keylen;
    uint8_t seal_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned long long opslimit;
    size_t memlimit;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct slow_job *head, *tail;
    int stopping;
    int nthreads;
    pthread_t threads[SLOW_MAX];
};

static void run_job(struct sodium_auth *a, struct slow_job *j)
{
    if (j->verify)
        j->rc =
            crypto_pwhash_str_verify(j->hash, j->pw, j->n) == 0 ? QL_OK : QL_EINVALID_CREDENTIALS;
    else
        j->rc = crypto_pwhash_str_alg(j->out, j->pw, j->n, a->opslimit, a->memlimit,
                                      crypto_pwhash_ALG_ARGON2ID13)
                    ? QL_ENOMEM
                    : QL_OK;
}

static void *slow_main(void *arg)
{
    struct sodium_auth *a = arg;
    /* Raising one's own nice value needs no privilege; it applies to this thread only. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), SLOW_NICE);
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (a->head == NULL && !a->stopping)
            pthread_cond_wait(&a->work, &a->lock);
        struct slow_job *j = a->head;
        if (j == NULL)
            break;
        a->head = j->next;
        if (a->head == NULL)
            a->tail = NULL;
        pthread_mutex_unlock(&a->lock);
        run_job(a, j);
        pthread_mutex_lock(&a->lock);
        j->done = 1;
        pthread_cond_signal(&j->cond);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Hand j to a slow thread and wait for it (or run it here when there are none). */
static int slow(struct sodium_auth *a, struct slow_job *j)
{
    if (a->nthreads == 0) {
        run_job(a, j);
        return j->rc;
    }
    pthread_cond_init(&j->cond, NULL);
    j->next = NULL;
    j->done = 0;
    pthread_mutex_lock(&a->lock);
    if (a->tail)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->work);
    while (!j->done)
        pthread_cond_wait(&j->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    pthread_cond_destroy(&j->cond);
    return j->rc;
}

static int s_random(struct ql_auth *self, void *buf, size_t n)
{
    (void)self;
    randombytes_buf(buf, n);
    return QL_OK;
}

static int s_pw_hash(struct ql_auth *self, const char *pw, size_t n, char out[QL_PWHASH_LEN])
{
    _Static_assert(crypto_pwhash_STRBYTES <= QL_PWHASH_LEN, "hash buffer too small");
    struct slow_job j = {.verify = 0, .pw = pw, .n = n, .out = out};
    return slow((struct sodium_auth *)self, &j);
}

static int s_pw_verify(struct ql_auth *self, const char *hash, const char *pw, size_t n)
{
    struct slow_job j = {.verify = 1, .pw = pw, .n = n, .hash = hash};
    return slow((struct sodium_auth *)self, &j);
}

static int s_digest(struct ql_auth *self, const void *token, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    struct sodium_auth *a = (struct sodium_auth *)self;
    if (crypto_generichash(out, QL_DIGEST_LEN, token, n, a->key, a->keylen))
        return QL_EINTERNAL;
    return QL_OK;
}

static int s_hmac(struct ql_auth *self, const void *key, size_t keylen, const void *msg, size_t n,
                  uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    crypto_auth_hmacsha256_state st;
    if (crypto_auth_hmacsha256_init(&st, key, keylen) ||
        crypto_auth_hmacsha256_update(&st, msg, n) || crypto_auth_hmacsha256_final(&st, out))
        return QL_EINTERNAL;
    return QL_OK;
}

/* libsodium has no SHA-1: sha1.c computes it (TOTP only). */
static int s_hmac_sha1(struct ql_auth *self, const void *key, size_t keylen, const void *msg,
                       size_t n, uint8_t out[QL_SHA1_LEN])
{
    (void)self;
    ql__hmac_sha1(key, keylen, msg, n, out);
    return QL_OK;
}

static int s_sha256(struct ql_auth *self, const void *msg, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    return crypto_hash_sha256(out, msg, n) ? QL_EINTERNAL : QL_OK;
}

/* XChaCha20-Poly1305: a random 24-byte nonce is safe for any number of boxes. */
static int s_seal(struct ql_auth *self, const void *in, size_t n, uint8_t *out)
{
    struct sodium_auth *a = (struct sodium_auth *)self;
    _Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                           crypto_aead_xchacha20poly1305_ietf_ABYTES ==
                       QL_SEAL_OVERHEAD,
                   "seal overhead");
    uint8_t *nonce = out;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               &clen, in, n, NULL, 0, NULL, nonce, a->seal_key);
    return QL_OK;
}

static int s_open(struct ql_auth *self, const uint8_t *in, size_t n, void *out)
{
    struct sodium_auth *a = (struct sodium_auth *)self;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, &mlen, NULL, in + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            n - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, 0, in, a->seal_key) != 0)
        return QL_EINTERNAL;
    return QL_OK;
}

static const struct ql_auth_ops ops = {
    .random = s_random,
    .password_hash = s_pw_hash,
    .password_verify = s_pw_verify,
    .token_digest = s_digest,
    .hmac_sha256 = s_hmac,
    .hmac_sha1 = s_hmac_sha1,
    .sha256 = s_sha256,
    .seal = s_seal,
    .open = s_open,
};

int ql_sodium_auth_create(const uint8_t *secret, size_t secret_len, unsigned long long opslimit,
                          size_t memlimit, int slow_threads, struct ql_auth **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return QL_EINTERNAL;
    if (secret_len < crypto_generichash_KEYBYTES_MIN ||
        secret_len > crypto_generichash_KEYBYTES_MAX)
        return QL_ECONFIG;
    struct sodium_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return QL_ENOMEM;
    a->base.ops = &ops;
    memcpy(a->key, secret, secret_len);
    a->keylen = secret_len;
    /* A separate key for sealing, so no key is used for two purposes. */
    crypto_generichash(a->seal_key, sizeof(a->seal_key), (const uint8_t *)"quill-seal-v1", 13,
                       secret, secret_len);
    a->opslimit = opslimit ? opslimit : QL_ARGON2_PASSES;
    a->memlimit = memlimit ? memlimit : QL_ARGON2_MEMORY;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->work, NULL);
    if (slow_threads > SLOW_MAX)
        slow_threads = SLOW_MAX;
    for (int i = 0; i < slow_threads; i++) {
        if (pthread_create(&a->threads[i], NULL, slow_main, a) != 0)
            break;
        a->nthreads++;
    }
    *out = &a->base;
    return QL_OK;
}

void ql_sodium_auth_destroy(struct ql_auth *base)
{
    if (base == NULL)
        return;
    struct sodium_auth *a = (struct sodium_auth *)base;
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    pthread_cond_broadcast(&a->work);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->work);
    sodium_memzero(a->key, sizeof(a->key));
    sodium_memzero(a->seal_key, sizeof(a->seal_key));
    free(a);
}
