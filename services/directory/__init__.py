"""The directory of services (cartographie): its event store, command handler and read side."""

from services.directory.application import DirectoryApplication, DirectoryIndex
from services.directory.handler import DirectoryHandler, DirectoryResult
from services.directory.service import Directory, DirectoryFilter

__all__ = ["Directory", "DirectoryApplication", "DirectoryFilter", "DirectoryHandler", "DirectoryIndex", "DirectoryResult"]
