"""vipfs: an XVideoSharing video-hosting account as a Linux filesystem."""

__version__ = "0.1.0"
