"""A stateful fake of Azure Resource Manager (compute, network, resources) for the azure
provider's tests; see server.py for the specifications it follows."""

from fakes.azure.server import AzureFake, ArmError

__all__ = ["AzureFake", "ArmError"]
