#!/usr/bin/env python3
"""Embed a file as a NUL-terminated C array (usage: embed.py IN OUT SYMBOL [--json] [--csp]).
With --json the file must parse as JSON, so a broken document fails the build.
With --csp the file is an HTML page whose only script and style are its inline <script>
and <style> elements: SYMBOL_csp is then the Content-Security-Policy directives that allow
exactly those (script-src and style-src with each element's SHA-256), and the build fails
on inline event handlers or style attributes, which no hash can allow."""
import base64, hashlib, json, re, sys

src, out, sym = sys.argv[1:4]
data = open(src, 'rb').read()
if '--json' in sys.argv:
    json.loads(data)
    data = json.dumps(json.loads(data), separators=(',', ':')).encode()


def sources(tag):
    found = re.findall(rb'<%s>(.*?)</%s>' % (tag, tag), data, re.S)
    if not found or re.search(rb'<%s\s[^>]*>' % tag, data):
        sys.exit('%s: --csp needs plain inline <%s> elements' % (src, tag.decode()))
    return ' '.join("'sha256-%s'" % base64.b64encode(hashlib.sha256(f).digest()).decode()
                    for f in found)


csp = None
if '--csp' in sys.argv:
    markup = re.sub(rb'<(script|style)>.*?</\1>', b'', data, flags=re.S)
    if re.search(rb'<[^>]*\s(on[a-z]+|style)\s*=', markup, re.I):
        sys.exit('%s: an inline event handler or style attribute would need unsafe-inline' % src)
    csp = 'script-src %s; style-src %s' % (sources(b'script'), sources(b'style'))
body = ','.join(str(b) for b in data + b'\0')
with open(out, 'w') as f:
    f.write('/* Generated from %s by tools/embed.py; do not edit. */\n' % src.split('/')[-1])
    f.write('const char %s[] = {%s};\n' % (sym, body))
    if csp:
        f.write('const char %s_csp[] = "%s";\n' % (sym, csp))
