"""An XVS host on a real HTTP server: the oracle every integration test and benchmark runs against.

Imports nothing from vipfs.api or vipfs.vfs, so it checks the wire format independently.
"""
