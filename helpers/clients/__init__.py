"""What leaves a federated client, under the threat models the field moved to after DLG:

* :class:`FedSGD` shares the gradient of one step (the paper's client, the default);
* :class:`FedAvg` runs several local SGD steps and shares its weight update, which the
  attacker divides by the learning rate to read it as a gradient;
* :class:`DPSGD` trains either of them with Opacus's DP-SGD (per-example clipping and
  calibrated Gaussian noise) and reports the ``epsilon`` its accountant gives;
* :func:`share` with other clients' data is secure aggregation: the server sees only the
  mean of the clients' updates.
"""

from .privacy import DEFAULT_DELTA, DPSGD, parse_dpsgd
from .spec import CLIENT_HELP, Client, FedAvg, FedSGD, parse_client
from .training import Message, local_training, local_update, share

__all__ = ["CLIENT_HELP", "Client", "DEFAULT_DELTA", "DPSGD", "FedAvg", "FedSGD", "Message", "local_training", "local_update",
           "parse_client", "parse_dpsgd", "share"]
