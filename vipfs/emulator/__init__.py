"""An XVS host on a real HTTP server: the oracle every integration test and benchmark runs against.

Owns: nothing itself: it names the emulator's package and its entry points.
Imports: nothing; its modules import only the standard library and each other, never `vipfs.api` or
`vipfs.vfs`.

Imports nothing from vipfs.api or vipfs.vfs, so it checks the wire format independently.

In process:  `with Emulator(EmulatorConfig(direct_link=True)) as emu:` → `emu.api_url`, `emu.key`,
`emu.calls()`, `emu.set_faults({...})`, `emu.seed({...})`, `emu.files()`, `emu.host.clock`.
As a process: `vipfs emulator --help`. Control endpoints (no key, never faulted):
`GET|DELETE /_emu/calls`, `GET|POST /_emu/faults`, `POST /_emu/seed`, `GET /_emu/files`.
"""
