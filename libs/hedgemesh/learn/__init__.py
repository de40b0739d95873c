"""Deep hedging: train a hedge policy by back-propagating a risk objective through simulated
episodes of the lab's own path models, books and costs (`hedgemesh train`).

- `episodes`: the lab's episodes laid out for training (numpy, no torch): with a ladder hedge
  and proportional option costs, an episode's P&L is linear in the trades, so a few arrays per
  episode give it exactly;
- `rollout`: the P&L of a policy on those arrays, written once for numpy and torch;
- `config`: the training config (YAML);
- `model`, `objectives`, `train`: the torch side (the ``ml`` extra: PyTorch's CPU build);
- `report`: the tuned band and the held-out comparison through the lab's engine.

Only `model`, `objectives` and `train` import torch. docs/learned.md tells the whole story.
"""
