#!/usr/bin/env python3
"""check_sharding.py - could Citus distribute Quill's team-scoped tables by team_id?

Reads the schema from migrations/*.up.sql and every statement of the PostgreSQL adapter
(adapters/postgres/stmts.c with the stmts_*.h fragments it includes), and checks:

  1. every team-scoped table carries team_id: a table is team-scoped when it has a team_id
     column or references (REFERENCES) a team-scoped table;
  2. every statement on a team-scoped table names its team: the statement is pinned to
     teams given as parameters (team_id = $n, team_id = ANY ($n), or an INSERT whose
     columns include team_id), and every team-scoped table it reads or writes is tied to
     that team through its own team_id (t.team_id = $n, or t.team_id = u.team_id of a
     table that is), so that the statement touches one shard (or the shards of the teams
     it names), and joins stay on one node.

What does not fit is listed in ALLOWED below, each with the reason and what the plan of
docs/operations.md ("Sharding by team") does about it.  An entry that is no longer needed
(its statement now passes, or is gone) fails the check too, so the list stays true.
Prints TAP: one line per table rule and per statement.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')

# Tables that are not distributed by team (each with why): checked by neither rule.
NOT_TEAM_TABLES = {
    'users': 'a person belongs to many teams: a reference table, or its own distribution by user_id',
    'sessions': "keyed by token digest, belongs to a user (distributed with users)",
    'login_failures': 'keyed by email, before anyone is known',
    'rate_counters': 'keyed by client address',
    'idempotency_keys': "keyed by the caller's scope; a team's writes carry their team in the scope",
    'jobs': 'the queue stays on the coordinator (a plain local table)',
    'change_consumers': 'positions of internal consumers: coordinator-local',
    'change_marks': 'the log\'s retention marks: coordinator-local',
    'change_floor': 'one row: coordinator-local',
    'audit_heads': "keyed by chain, which is 'team:<team_id>' or 'account'; the plan adds team_id",
    'exports': "a user's data exports: distributed with users",
    'export_parts': 'the parts of an export: with their export',
}

# Statements that do not name their team, by the enum name without QL__ST_, with why.
ALLOWED = {
    # Lookups by a global key: the key comes before the team is known.
    'PRINCIPAL_LOAD': 'resolves a token digest to a session or an API key; plan: a reference '
                      'table of key digests to teams (or the caller cache in front of a '
                      'multi-shard query, as today: it runs once per token per 5 minutes)',
    'PRINCIPAL_LOAD_USER': "a user's teams: by user_id across teams (multi-shard, cached)",
    'USER_PROFILE': "a user's teams: by user_id across teams (multi-shard)",
    'KEY_TOUCH': 'by api_key_id (the principal has its team: the plan adds it)',
    # The worker's cross-team work: multi-shard statements, run by jobs, not requests.
    'PURGE_DELETED': 'retention over every team (a multi-shard DELETE)',
    'DAILY_PICK_ALL': "cron: every team's daily prompt in one statement (multi-shard)",
    'CONSUMER_READ': 'the change log in global order (plan: one cursor per shard)',
    'CHANGES_COMPACT_BATCH': 'log retention over every team (multi-shard DELETE)',
    'ACTIVITY_ADD': "the consumer's counts for a batch of teams (team_id from unnest: "
                    'routed per row by Citus)',
    'FLAG_TEAMS_LIST': "an operator's list of one flag's overrides across teams (a "
                       'multi-shard read of feature_flag_teams, off the request path of users)',
    'DELIVERY_TARGET': 'a delivery job names its delivery only (plan: the job payload '
                       'carries the team too)',
    'ATTEMPT_ADD': 'by delivery and webhook id from the job (plan: as DELIVERY_TARGET)',
    'WEBHOOK_DISABLE': 'by webhook id from the delivery job (plan: as DELIVERY_TARGET)',
    'ATTEMPT_FAILURES': "the operators' view of failures across teams (multi-shard)",
    'DELIVERIES_PURGE': 'retention of finished deliveries over every team (a multi-shard '
                        'DELETE; attempts go by cascade in the same shard)',
    'DELIVERIES_FAIL_ORPHANS': 'pending deliveries of every team whose job is gone: a join '
                               'with the queue, which stays on the coordinator (plan: run it '
                               'per shard with the live jobs\' delivery ids as a parameter)',
    # Metering: one process's batch of many teams in one statement, and the log's retention.
    'USAGE_RELEASE': 'units given back for a batch of teams (team_id from unnest: routed per '
                     'row by Citus)',
    'USAGE_ADD_USED': "a flush's used counts for a batch of teams (team_id from unnest: "
                      'routed per row by Citus)',
    'USAGE_PURGE': 'retention of the request log over every team (a multi-shard DELETE)',
    # Data rights: a person's data in every team, exported or erased by jobs, by user.
    'R_MEMBERSHIPS': "a user's memberships in every team (export: multi-shard by user)",
    'R_ENTRIES': "a user's entries in every team (export: multi-shard by user)",
    'R_KEYS': "the keys a user made in every team (export: multi-shard by user)",
    'R_AUDIT': "the audit rows about a user in every chain (export: multi-shard)",
    'ERASE_ENTRIES': "erasure: a user's entries in every team (multi-shard by author)",
    'USER_RENAME': "a user's name shows in each of its teams' member lists: the rename moves "
                   'its memberships in every team on (multi-shard by user_id)',
    'SCRUB_DELIVERIES': 'erasure: delivered bodies that quote the user, in every team',
    # Global prompts (team_id NULL) are a reference table in the plan: a join with them
    # needs no team.
    'DAILY_GET': "today's prompt of a team may be a global one",
}

# ---- the schema ----------------------------------------------------------------------------


def strip_sql_comments(s):
    return re.sub(r'--[^\n]*', '', s)


def schema(root):
    tables = {}  # name -> {'cols': set, 'refs': set}
    mdir = os.path.join(root, 'migrations')
    for f in sorted(os.listdir(mdir)):
        if not f.endswith('.up.sql'):
            continue
        sql = strip_sql_comments(open(os.path.join(mdir, f)).read())
        for m in re.finditer(r'CREATE TABLE (\w+)\s*\((.*?)\);', sql, re.S | re.I):
            name, body = m.group(1), m.group(2)
            t = tables.setdefault(name, {'cols': set(), 'refs': set()})
            for line in body.split('\n'):
                line = line.strip()
                c = re.match(r'(\w+)\s+(uuid|text|bigint|integer|int|smallint|boolean|bytea|'
                             r'timestamptz|date|xid8|jsonb|text\[\])\b', line, re.I)
                if c and c.group(1).upper() not in ('PRIMARY', 'CONSTRAINT', 'UNIQUE', 'CHECK'):
                    t['cols'].add(c.group(1))
                for r in re.findall(r'REFERENCES\s+(\w+)', line, re.I):
                    t['refs'].add(r)
        for m in re.finditer(r'ALTER TABLE (\w+)\s+ADD COLUMN (\w+)([^;,]*)', sql, re.I):
            t = tables.setdefault(m.group(1), {'cols': set(), 'refs': set()})
            t['cols'].add(m.group(2))
            for r in re.findall(r'REFERENCES\s+(\w+)', m.group(3), re.I):
                t['refs'].add(r)
        for m in re.finditer(r'DROP TABLE (?:IF EXISTS )?(\w+)', sql, re.I):
            tables.pop(m.group(1), None)
    return tables


def team_scoped(tables):
    scoped = {n for n, t in tables.items() if 'team_id' in t['cols'] and n not in NOT_TEAM_TABLES}
    changed = True
    while changed:  # referencing a team-scoped table makes a table team-scoped
        changed = False
        for n, t in tables.items():
            if n not in scoped and n not in NOT_TEAM_TABLES and t['refs'] & scoped:
                scoped.add(n)
                changed = True
    return scoped

# ---- the statements ------------------------------------------------------------------------


def c_strings(s):
    return ''.join(bytes(x, 'utf-8').decode('unicode_escape') for x in re.findall(r'"((?:[^"\\]|\\.)*)"', s))


def statements(root):
    pdir = os.path.join(root, 'adapters', 'postgres')
    src = open(os.path.join(pdir, 'stmts.c')).read()
    src = re.sub(r'#include "(stmts_\w+\.h)"', lambda m: open(os.path.join(pdir, m.group(1))).read(), src)
    src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
    src = src.replace('\\\n', ' ')
    macros = {}
    for m in re.finditer(r'#define (QL__PG_\w+)\s+((?:"(?:[^"\\]|\\.)*"\s*\\?\s*)+)', src):
        macros[m.group(1)] = c_strings(m.group(2))
    out = {}
    for m in re.finditer(r'\[QL__ST_(\w+)\]\s*=\s*\{\s*"\w+",\s*((?:"(?:[^"\\]|\\.)*"\s*|QL__PG_\w+\s*)+),\s*\d+\s*\}', src):
        parts = re.findall(r'"(?:[^"\\]|\\.)*"|QL__PG_\w+', m.group(2))
        out[m.group(1)] = ''.join(macros[p] if p.startswith('QL__PG_') else c_strings(p) for p in parts)
    return out


KEYWORDS = {'WHERE', 'ON', 'SET', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'CROSS', 'ORDER', 'GROUP',
            'LIMIT', 'USING', 'VALUES', 'FOR', 'UNION', 'RETURNING', 'SELECT', 'WITH', 'AS',
            'DEFAULT', 'ALL', 'AND', 'OR', 'FROM'}


def references(sql, tables):
    """(table, alias or None) for each team table a statement names."""
    refs = []
    for m in re.finditer(r'\b(?:FROM|JOIN|UPDATE|INTO|USING)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?', sql, re.I):
        name, alias = m.group(1), m.group(2)
        if name not in tables:
            continue
        if alias and (alias.upper() in KEYWORDS or alias == '('):
            alias = None
        refs.append((name, alias))
    return refs


def check_statement(sql, tables, scoped):
    """None when it names its team, else why not."""
    refs = [(n, a) for n, a in references(sql, tables) if n in scoped]
    if not refs:
        return None
    col = r'(?:\b(\w+)\.)?team_id'
    pinned = set()  # aliases (or '' for unqualified) compared with a parameter
    for m in re.finditer(col + r'\s*(?:=\s*(?:ANY\s*\(\s*)?\$\d|IN\s*\(\s*\$)', sql, re.I):
        pinned.add(m.group(1) or '')
    for m in re.finditer(r'\$\d+\s*=\s*' + col, sql, re.I):
        pinned.add(m.group(1) or '')
    for n, a in refs:  # an INSERT with a team_id column is pinned by the values it writes
        m = re.search(r'INSERT INTO ' + n + r'\b[^(]*\(([^)]*)\)', sql, re.I)
        if m and re.search(r'\bteam_id\b', m.group(1)):
            pinned.add(a or n)
    if not pinned:
        return 'no team_id compared with a parameter'
    ties = [(m.group(1), m.group(2)) for m in re.finditer(r'\b(\w+)\.team_id\s*=\s*(\w+)\.team_id', sql)]
    grew = True
    while grew:  # tied by team_id to a pinned table
        grew = False
        for x, y in ties:
            for p, q in ((x, y), (y, x)):
                if q in pinned and p not in pinned:
                    pinned.add(p)
                    grew = True
    for n, a in refs:
        key = a or n
        unqualified = '' in pinned and a is None
        if key not in pinned and not unqualified and not ('' in pinned and len(refs) == 1):
            return f'{n}{" " + a if a else ""} is not tied to the team'
    return None


def main():
    tables = schema(ROOT)
    scoped = team_scoped(tables)
    stmts = statements(ROOT)
    lines, failed = [], 0

    def tap(ok, what):
        nonlocal failed
        failed += not ok
        lines.append(f'{"ok" if ok else "not ok"} {len(lines) + 1} - {what}')

    tap(len(stmts) > 50 and len(tables) > 10, f'read {len(stmts)} statements and {len(tables)} tables')
    for n in sorted(scoped):
        tap('team_id' in tables[n]['cols'], f'team-scoped table {n} carries team_id')
    for n in sorted(NOT_TEAM_TABLES):
        tap(n in tables, f'{n} (not distributed by team) exists')
    for name in sorted(stmts):
        why = check_statement(stmts[name], tables, scoped)
        if name in ALLOWED:
            tap(why is not None,
                f'{name}: allowed ({ALLOWED[name][:60]}...)' if why else
                f'{name}: on the allow-list but names its team: remove it from the list')
        else:
            tap(why is None, f'{name} names its team' + (f': {why}' if why else ''))
    for name in sorted(set(ALLOWED) - set(stmts)):
        tap(False, f'{name}: on the allow-list but no such statement')
    print(f'1..{len(lines)}')
    print('\n'.join(lines))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
