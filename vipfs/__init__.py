"""vipfs: an XVideoSharing video-hosting account as a Linux filesystem.

Owns: the package's version (`__version__`).
Imports: nothing.
"""

__version__ = "0.1.0"
