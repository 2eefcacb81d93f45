#!/usr/bin/env python3
"""Add up test results and print the final "N passed, N failed" line.

Arguments are result files: meson testlog.json files (TAP cases inside each test's stdout)
and TAP files from node's test runner.  A test program that crashed or exited non-zero
without reporting a failing case counts as one failed case, so a crash is never lost.
Exits 1 when anything failed or when no test ran at all."""
import json, re, sys

OK = re.compile(r'^\s*ok \d+')
NOT_OK = re.compile(r'^\s*not ok \d+')

KEEP = re.compile(r'^  (location|error|expected|actual|failureType|exitCode|signal):')


def tap_failures(text, limit=20):
    """What node's runner said about each failing top-level test: its YAML block's
    location, error, expected and actual (each line cut short), so a CI log that keeps
    only the summary still says why."""
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if not NOT_OK.match(line) or line.startswith(' '):
            continue
        out.append('    ' + line)
        keep = False
        for y in lines[i + 1:i + 400]:
            if y.startswith('  ...') or not y.startswith(' '):
                break
            if KEEP.match(y):
                keep = True
            elif re.match(r'^  \w', y):
                keep = False
            if keep:
                out.append('    ' + y[:300])
    return out[:limit * 8]


def tap_counts(text, top_level_only=False):
    p = f = 0
    for line in text.splitlines():
        if top_level_only and line.startswith(' '):
            continue
        if '# SKIP' in line or '# TODO' in line:
            continue
        if NOT_OK.match(line):
            f += 1
        elif OK.match(line):
            p += 1
    return p, f

passed = failed = 0
rows = []
details = []
for path in sys.argv[1:]:
    label = path
    try:
        data = open(path).read()
    except OSError:
        rows.append((path, 0, 1, 'missing result file'))
        failed += 1
        continue
    if path.endswith('.json'):
        for line in data.splitlines():
            if not line.strip():
                continue
            t = json.loads(line)
            p, f = tap_counts(t.get('stdout', ''))
            bad = t.get('result') not in ('OK', 'EXPECTEDFAIL', 'SKIP')
            if bad and f == 0:
                f = 1
            passed += p
            failed += f
            if f:
                rows.append((t['name'], p, f, t.get('result')))
    else:
        # node --test TAP: count top-level test lines only (subtests are nested).
        p, f = tap_counts(data, top_level_only=True)
        m = re.search(r'^# fail (\d+)', data, re.M)
        if m and int(m.group(1)) > f:
            f = int(m.group(1))
        passed += p
        failed += f
        if f or p == 0:
            rows.append((label, p, f, 'failures' if f else 'no tests ran'))
            details.extend(tap_failures(data))
            if p == 0 and f == 0:
                failed += 1
for name, p, f, why in rows:
    print(f'  FAILED: {name} ({p} passed, {f} failed, {why})')
for line in details:
    print(line)
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed or passed == 0 else 0)
