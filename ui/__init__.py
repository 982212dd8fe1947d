"""Customer chat widget (static JS/CSS), its demo page and the Gradio agent console.

Importing this package is cheap: FastAPI and Gradio are imported only when used.
"""

from ui.console import ConsoleBackend, build_console
from ui.server import mount_ui

__all__ = ["ConsoleBackend", "build_console", "mount_ui"]
