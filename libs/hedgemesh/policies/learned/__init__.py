"""A learned hedge policy, served without PyTorch: a network trained by `hedgemesh train`
(`hedgemesh.learn`), read from its checkpoint (numpy weights, a manifest with a checksum) and
run in numpy by the lab and the live agents alike (`LearnedPolicy`, kind ``learned``).

- `checkpoint`: the checkpoint's files, their checks (format, checksum, shapes);
- `network`: the forward passes in numpy (an MLP on the Markov state, a GRU);
- `spec`: what the network sees and how its output becomes a trade, written once with array
  operators only, so the trainer runs the very same functions on torch tensors;
- `policy`: `LearnedPolicy`, a `Policy` like any other.

docs/learned.md has the whole story and the benchmark figures.
"""

from hedgemesh.policies.learned.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from hedgemesh.policies.learned.policy import LearnedPolicy

__all__ = ["Checkpoint", "CheckpointError", "LearnedPolicy", "load_checkpoint"]
