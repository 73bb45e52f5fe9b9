"""`vipfs emulator`: run an XVS host on 127.0.0.1 until SIGINT/SIGTERM.

Owns: the `vipfs emulator` command: its flags and its run until a signal.
Imports: the standard library and `vipfs.emulator` config, keys, server only; never `vipfs.api` or
`vipfs.vfs`.

The first stdout line is the API URL (scripts read it to find the port); with a generated key,
the second is the key file's path. The key itself is never printed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from vipfs.emulator.config import (
    FAULT_KINDS,
    FEATURES_400,
    FEATURES_403,
    HOSTILE_REPLIES,
    EmulatorConfig,
)
from vipfs.emulator.keys import KeyFileError
from vipfs.emulator.server import Emulator

FEATURES = FEATURES_403 + FEATURES_400


def _features(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in FEATURES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown feature(s) {bad}; known: {', '.join(FEATURES)}")
    return names


def _fault(text: str) -> tuple[str, float]:
    kind, _, rate = text.rpartition(":")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    try:
        value = float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad rate in {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("fault rate must be in 0..1")
    return kind, value


def configure(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    add(
        "--key-file",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        help="API key file (repeat for several accounts); default: generate one",
    )
    add("--data", type=Path, help="state directory (default: a temp dir removed at exit)")
    add("--seed-demo", action="store_true", help="fill the first account with demo content")
    add(
        "--enable",
        type=_features,
        action="append",
        default=[],
        help=f"turn features on: {','.join(FEATURES)}",
    )
    add("--disable", type=_features, action="append", default=[], help="turn features off")
    add("--rate-limit-per-min", type=int, default=0)
    add("--rate-limit-per-day", type=int, default=0)
    add("--max-concurrent", type=int, default=0, help="API calls in flight before HTTP 520")
    add("--latency-ms", type=int, default=0, help="added to every request")
    add("--bandwidth-mbps", type=float, default=0.0, help="cap on upload and download bodies")
    add(
        "--fault",
        type=_fault,
        action="extend",
        nargs="+",
        default=[],
        metavar="KIND:RATE",
        help=f"inject faults: {', '.join(FAULT_KINDS)}",
    )
    add("--seed", type=int, default=0, help="seed of the fault generator")
    add("--node-bytes-per-sec", type=float, default=0.0, help="upload node reads this slowly")
    add("--slow-upload-names", default="", help="comma-separated filename parts it slows")
    add("--link-bytes-per-sec", type=float, default=0.0, help="direct links send this slowly")
    add("--slow-link-codes", default="", help="comma-separated codes of slow links (all)")
    add(
        "--server-tz",
        default="+03:00",
        help="zone of server_time and dates (negative: --server-tz=-05:00)",
    )
    add("--encode-seconds", type=float, default=2.0)
    add("--keep-orig", action="store_true", help="keep the `o` version after encoding")
    add("--listing-delay", type=float, default=0.0, help="seconds before uploads are listed")
    add("--invalid-key-status", type=int, default=400, choices=(400, 403))
    add("--max-upload-mb", type=int, default=2500)
    add("--storage-gb", type=float, default=100.0)
    add("--link-expire-sec", type=int, default=3600)
    add("--link-ip-bind", action="store_true", help="bind direct links to the caller's /16")
    add(
        "--stale-seconds",
        type=float,
        default=0.0,
        help="serve cached (stale) read answers for this long, like the memcached mod",
    )
    add(
        "--hostile-reply",
        default="",
        choices=HOSTILE_REPLIES,
        metavar="KIND",
        help="break replies: deep (100,000-deep JSON), huge (--hostile-bytes), garbage",
    )
    add("--hostile-ops", default="", help="comma-separated ops --hostile-reply hits (default: all)")
    add("--hostile-bytes", type=int, default=256 << 20, help="size of a huge reply")
    add("--server-time-override", default="", help="the envelope's server_time, verbatim")
    add("--file-date-override", default="", help="every file date in listings, verbatim")
    add("--hostile-codes", action="store_true", help="listings carry entries with hostile codes")
    add("--synthetic-files", type=int, default=0, help="generated files of --synthetic-fld-id")
    add("--synthetic-fld-id", type=int, default=0)
    add("--api-not-enabled", action="store_true")
    add("--special-only", action="store_true")
    add("--no-upload-servers", action="store_true")
    add("--allow-anonymous-uploads", action="store_true")
    add("--ignore-list-filters", action="store_true", help="file/list lists every file")
    add(
        "--edit-drops-markup",
        action="store_true",
        help='file/edit, folder/create and folder/edit ignore a title or name with < > or "',
    )
    add(
        "--node-fail-after-store",
        type=float,
        default=0.0,
        metavar="RATE",
        help="chance the node stores an upload, then answers HTML 500",
    )
    add("--upload-server-url", default="", help="what upload/server answers (http:// too)")
    add("--echo-key", action="store_true", help="error messages echo the caller's key")
    add(
        "--url-codes-blank",
        action="store_true",
        help="file/url_uploads lists no file_code until the fetch is done",
    )
    add("--msg-newlines", action="store_true", help="error messages carry a forged log line")
    add("--tls-cert", type=Path, help="serve https with this PEM certificate (needs --tls-key)")
    add("--tls-key", type=Path, help="the PEM private key of --tls-cert")
    add("--verbose", action="store_true", help="log requests (keys redacted) to stderr")


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    config = EmulatorConfig(
        port=args.port,
        data_dir=args.data,
        key_files=list(args.key_file),
        seed_demo=args.seed_demo,
        rate_limit_per_min=args.rate_limit_per_min,
        rate_limit_per_day=args.rate_limit_per_day,
        max_concurrent=args.max_concurrent,
        latency_ms=args.latency_ms,
        bandwidth_mbps=args.bandwidth_mbps,
        faults=dict(args.fault),
        seed=args.seed,
        node_bytes_per_sec=args.node_bytes_per_sec,
        slow_upload_names=args.slow_upload_names,
        link_bytes_per_sec=args.link_bytes_per_sec,
        slow_link_codes=args.slow_link_codes,
        server_tz=args.server_tz,
        encode_seconds=args.encode_seconds,
        keep_orig=args.keep_orig,
        listing_delay=args.listing_delay,
        invalid_key_status=args.invalid_key_status,
        max_upload_mb=args.max_upload_mb,
        storage_gb=args.storage_gb,
        link_expire_sec=args.link_expire_sec,
        link_ip_bind=args.link_ip_bind,
        stale_seconds=args.stale_seconds,
        hostile_reply=args.hostile_reply,
        hostile_ops=args.hostile_ops,
        hostile_bytes=args.hostile_bytes,
        server_time_override=args.server_time_override,
        file_date_override=args.file_date_override,
        hostile_codes=args.hostile_codes,
        synthetic_files=args.synthetic_files,
        synthetic_fld_id=args.synthetic_fld_id,
        api_not_enabled=args.api_not_enabled,
        special_only=args.special_only,
        no_upload_servers=args.no_upload_servers,
        allow_anonymous_uploads=args.allow_anonymous_uploads,
        verbose=args.verbose,
        ignore_list_filters=args.ignore_list_filters,
        edit_drops_markup=args.edit_drops_markup,
        node_fail_after_store=args.node_fail_after_store,
        upload_server_url=args.upload_server_url,
        echo_key=args.echo_key,
        url_codes_blank=args.url_codes_blank,
        msg_newlines=args.msg_newlines,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    for names, value in ((args.enable, True), (args.disable, False)):
        for group in names:
            for name in group:
                setattr(config, name, value)
    config.tz()  # fail early on a bad --server-tz
    return config


def run(args: argparse.Namespace) -> int:
    try:
        emulator = Emulator(config_from_args(args))
    except (ValueError, KeyFileError, OSError) as exc:
        print(f"vipfs emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        emulator.start()
    except (ValueError, OSError) as exc:  # a bad certificate or key: ssl.SSLError is an OSError
        emulator.stop()
        print(f"vipfs emulator: {exc}", file=sys.stderr)
        return 2
    try:
        print(emulator.api_url, flush=True)
        if emulator.generated_key_file is not None:
            print(emulator.generated_key_file, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0
