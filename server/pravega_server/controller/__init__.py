"""The controller: stream metadata over the storage engine, served as Pravega's gRPC
controller API (``io.pravega.controller.stream.api.grpc.v1.ControllerService``)."""

from .service import ControllerService
from .status import Status

__all__ = ["ControllerService", "Status"]
