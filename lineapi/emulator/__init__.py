"""A LINE Messaging API emulator: `python -m lineapi.emulator --port PORT --token TOKEN`."""

from lineapi.emulator.app import Emulator, create_app
from lineapi.emulator.config import EmulatorConfig, parse_args

__all__ = ["Emulator", "EmulatorConfig", "create_app", "parse_args"]
