"""A small `torch.nn`: Module, Parameter, Linear, Sequential, activations and losses."""
from . import functional
from .modules import (BCEWithLogitsLoss, Identity, Linear, Module, MSELoss, Parameter, ReLU,
                      Sequential, Sigmoid, Tanh)

__all__ = ["functional", "Module", "Parameter", "Linear", "Sequential", "ReLU", "Sigmoid", "Tanh",
           "Identity", "MSELoss", "BCEWithLogitsLoss"]
