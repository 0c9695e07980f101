"""PBX emulator: an AMI server (Asterisk 20 wire format) running the recorded
dialplan on emulated Local channels, and a FastAGI client for `AGI()`.

    emu = PbxEmulator("hotline", "secret", agi_url="agi://127.0.0.1:4573", speed=10.0)
    await emu.start(host="127.0.0.1", port=0)
    ... connect an AMI client to emu.port ...
    await emu.drop_connections()   # cut AMI sockets, calls go on
    emu.ledger.summary()           # created / answered / abandoned / ended calls
    await emu.stop()
"""

from sim.pbx_emulator.engine import CallRecord, Ledger, Pbx
from sim.pbx_emulator.server import PbxEmulator

__all__ = ["CallRecord", "Ledger", "Pbx", "PbxEmulator"]
