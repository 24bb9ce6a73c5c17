"""The directory of services (cartographie): its event store, command handler and read side."""

from services.directory.application import DirectoryApplication, DirectoryIndex
from services.directory.handler import DirectoryHandler, DirectoryResult

__all__ = ["DirectoryApplication", "DirectoryHandler", "DirectoryIndex", "DirectoryResult"]
