"""The wire: typed records, one error tree, the httpx client and its rate limiter.

Owns: nothing itself: it names the wire's modules.
Imports: nothing; its modules import only the standard library, httpx, trio and each other, never
`vipfs.vfs`, `vipfs.fuse_ops`, `vipfs.mount`, the emulator or pyfuse3.

Knows nothing of files or FUSE; everything above talks to an XVS host only through here.

  protocol   XvsApi, the surface the layers above code against
  client     XvsClient, XvsApi over httpx on trio: retries, budgets, uploads, ranged downloads
  records    typed records with lenient `from_wire` parsers (helpers in `wire`)
  envelope   a reply decoded, and the one mapping of replies onto `errors`
  ratelimit  the limiter every call passes: in-flight cap plus the host's per-minute quota
  clock      the server's UTC offset, learned from `server_time`
  multipart  the streamed upload body
  redact     keeps the API key out of every log record
"""
