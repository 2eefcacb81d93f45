#!/usr/bin/env python3
"""Embed a file as a NUL-terminated C array (usage: embed.py IN OUT SYMBOL [--json]).
With --json the file must parse as JSON, so a broken document fails the build."""
import json, sys

src, out, sym = sys.argv[1:4]
data = open(src, 'rb').read()
if '--json' in sys.argv:
    json.loads(data)
    data = json.dumps(json.loads(data), separators=(',', ':')).encode()
body = ','.join(str(b) for b in data + b'\0')
with open(out, 'w') as f:
    f.write('/* Generated from %s by tools/embed.py; do not edit. */\n' % src.split('/')[-1])
    f.write('const char %s[] = {%s};\n' % (sym, body))
