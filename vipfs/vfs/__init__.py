"""The filesystem model, free of FUSE: inodes, names, listings, metadata, spool and caches.

Owns: nothing itself: it names the model's package.
Imports: nothing; its modules may use `vipfs.api` and each other, never pyfuse3, `vipfs.fuse_ops`,
`vipfs.mount` or the emulator, and no vfs module imports the facade (filesystem).
"""
