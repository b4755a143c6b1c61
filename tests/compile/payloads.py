"""The injection corpus: every way crossplane's builder and ingress-nginx let user text become config.

Sources (peers.md): crossplane emits a value starting with `#` bare (the rest of the line becomes a
comment and the next directive's tokens become arguments), leaves a trailing backslash unterminated,
emits a real CR/LF as `\\r\\n` (nginx accepts it and decodes it at runtime into an injected header),
and lets a newline in a comment inject live directives. ingress-nginx's 15 CVEs were user text in
paths, server names, proxy_pass and comments reaching config text.
"""

# Values that must be rejected wherever they appear.
CONTROL = [
    "x\r\nX-Injected: 1",                # CRLF header injection
    "x\ninclude /etc/passwd;",           # a newline starting a new directive (or leaving a comment)
    "ok\x00",                            # NUL
    "tab\there",
    "del\x7f",
    "line\u2028sep",
    "next\u0085line",
]

# Values that are fine as text: each must arrive as exactly one argument, or be refused by the field's type.
STRUCTURAL = [
    "#comment; deny all",                # leading '#'
    "trailing\\",                        # trailing backslash
    "semi;colon",
    "brace { open",
    "} close",
    "/x;} location / { return 200 pwned; } location /y {",   # ingress-nginx path injection
    'quote"inside',
    "single'quote",
    "'leading single",
    '"leading double',
    "with space",
    "back\\nslash-n",                    # backslash + n: nginx decodes \n inside strings
    "back\\\"quote",
    "${host}",                           # crossplane's ${...} parameter expansion
    "$host",                             # a variable where the field may not expand one
    "",
    "ünïcode ✓",
    "ssl_engine pwn",
]

ALL = CONTROL + STRUCTURAL
