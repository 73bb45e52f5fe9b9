"""The wire: typed records, one error tree, the httpx client and its rate limiter.

Knows nothing of files or FUSE; everything above talks to an XVS host only through here.
"""
