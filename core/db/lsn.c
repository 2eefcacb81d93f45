/*
 * lsn.c - WAL positions as PostgreSQL writes them, for the read-your-writes rules of
 * core/db/db.h (the Quill-Min-Lsn header, the replica's replay position).
 */
#include "db/db.h"

uint64_t ql_db_lsn_parse(const char *s, size_t n)
{
    uint64_t part[2] = {0, 0};
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        size_t digits = 0;
        for (; i < n && digits < 9; i++, digits++) {
            char c = s[i];
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
            if (v < 0)
                break;
            part[k] = part[k] << 4 | (uint64_t)v;
        }
        if (digits == 0 || digits > 8 || (k == 0 && (i >= n || s[i++] != '/')))
            return 0;
    }
    return i == n ? part[0] << 32 | part[1] : 0;
}
