#!/usr/bin/env python3
"""tools/bench/sync_cursors.py - the sync cursors of the sync benchmark, taken from the API
itself (tools/bench/bench.sh, bench_sync), so that the benchmark never depends on how a
cursor is made.

  sync_cursors.py start URL < teams.tsv
      Takes a full snapshot of the first team (GET /v1/teams/{id}/sync, pages of 200) and
      prints the cursor its last page hands over: the changes made after the snapshot.
  sync_cursors.py collect URL CURSOR LIMIT < teams.tsv > cursors.tsv
      Pages every team's delta feed from CURSOR with pages of LIMIT and prints
      "<t> <cursor>" for every cursor whose page was full: each has at least LIMIT changes
      after it.
  sync_cursors.py entries URL LIMIT < teams.tsv > cursors.tsv
      Pages every team's journal entries from the newest with pages of LIMIT and prints
      "<t> <cursor>" for every page that was full ("-" for the newest, which takes no
      cursor): pages of entries from across the same history as the delta pages.

teams.tsv holds "<t> <team id>" lines; team t is read with the token of its owner, user
10(t-1)+1 of the data set (tools/bench/wrk/dataset.lua).  One keep-alive connection,
bounded by a timeout per request; loopback only.
"""
import http.client
import json
import sys
import urllib.parse


def get(conn, path, token):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    res = conn.getresponse()
    body = res.read()
    if res.status != 200:
        sys.exit(f"sync_cursors: GET {path} answered {res.status}: {body[:300]!r}")
    return json.loads(body)


def teams():
    for line in sys.stdin:
        if line.strip():
            t, team = line.split()
            yield int(t), team


def token_of(t):
    return f"peer-token-{10 * (t - 1) + 1}"


def full_pages(conn, t, cursor, path_of, items, limit):
    """Yields cursor, then each next cursor, while the page path_of(cursor) gives is full
    (its list items holds limit things)."""
    for _ in range(100000):
        page = get(conn, path_of(cursor), token_of(t))
        if len(page[items]) < limit:
            return
        yield cursor
        cursor = page["nextCursor"]
        if not cursor:
            return


def entries(conn, limit):
    total = 0
    for t, team in teams():
        base = f"/v1/teams/{team}/journal-entries?limit={limit}"
        for cursor in full_pages(conn, t, "-", lambda c: base if c == "-" else f"{base}&cursor={c}",
                                 "items", limit):
            print(t, cursor)
            total += 1
    print(f"sync_cursors: {total} pages of entries", file=sys.stderr)
    if not total:
        sys.exit("sync_cursors: no full page of entries")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("start", "collect", "entries"):
        sys.exit(__doc__)
    url = urllib.parse.urlsplit(sys.argv[2])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    if sys.argv[1] == "start":
        t, team = next(teams())
        page = {"hasMore": True, "nextCursor": None}
        for _ in range(1000):
            q = "limit=200" + (f"&since={page['nextCursor']}" if page["nextCursor"] else "")
            page = get(conn, f"/v1/teams/{team}/sync?{q}", token_of(t))
            if not page["hasMore"]:
                print(page["nextCursor"])
                return
        sys.exit("sync_cursors: the snapshot did not end after 1,000 pages")
    if sys.argv[1] == "entries":
        entries(conn, int(sys.argv[3]))
        return
    start, limit = sys.argv[3], int(sys.argv[4])
    total = 0
    fewest = None
    for t, team in teams():
        n = 0
        base = f"/v1/teams/{team}/sync?limit={limit}&since="
        for cursor in full_pages(conn, t, start, lambda c: base + c, "changes", limit):
            print(t, cursor)
            n += 1
        total += n
        fewest = n if fewest is None else min(fewest, n)
    print(f"sync_cursors: {total} cursors, at least {fewest} per team", file=sys.stderr)
    if not fewest:
        sys.exit("sync_cursors: a team has no full page of changes")


if __name__ == "__main__":
    main()
