"""The filesystem model, free of FUSE: inodes, names, listings, metadata, spool and caches."""
