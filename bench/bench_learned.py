"""Benchmark: one live decision of a learned policy, and its network served two ways.

Run: `.venv/bin/python bench/bench_learned.py` (`make bench` runs it single-threaded). On one
core, best of 5 (`time.perf_counter`), each a loop of 2,000 calls, per call in microseconds:

1. the network alone on one state (n = 1): numpy (`hedgemesh.policies.learned.network`, what
   the lab and the agents run) against ONNX Runtime on the same weights exported by
   `torch.onnx` (needs the ``ml`` and ``bench`` extras; skipped, saying why, without them);
2. `LearnedPolicy.decide` on a prebuilt state, and a whole live decision,
   `policies.live.decide` from plain numbers (the book's greeks by bsm, the state, the policy,
   the legs), against the same live decision by the classical `DeltaGamma` gamma band as the
   baseline of this run.

The issue's target: at most 100 µs per live decision. The checkpoint is the shipped
examples/learned/cao-gbm one when present, else random weights of the same shape. Nothing here
asserts on time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import dataclasses  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hedgemesh.policies import DeltaGamma, HedgeOption, live  # noqa: E402
from hedgemesh.policies.learned import LearnedPolicy, load_checkpoint, network  # noqa: E402
from hedgemesh.policies.learned.checkpoint import save_checkpoint  # noqa: E402

REPEATS = 5
CALLS = 2_000
SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "learned" / "cao-gbm"
DAY = 1.0 / 365.0


def _per_call_us(fn: Callable[[], object]) -> float:
    fn()
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / CALLS * 1e6


def _checkpoint(folder: Path) -> Path:
    if (SHIPPED / "manifest.json").exists():
        return SHIPPED
    rng = np.random.default_rng(0)
    shapes = network.expected_shapes("mlp", 2, 32, 2)
    weights = {name: 0.3 * rng.standard_normal(shape) for name, shape in shapes.items()}
    manifest = {
        "network": {"kind": "mlp", "hidden": 32, "layers": 2},
        "head": "band",
        "inputs": ["gamma_trade", "time_left"],
        "scale": 100.0,
        "episode_years": 30 / 250,
        "vol_ref": 0.3,
        "hedge": dataclasses.asdict(HedgeOption(tenor_days=43.8, ladder=True)),
    }
    save_checkpoint(folder, manifest, weights)
    return folder


def _onnx_forward_us(ck, x: np.ndarray) -> tuple[float | None, str]:
    try:
        import onnxruntime
        import torch

        from hedgemesh.learn.model import HedgeNet
    except ImportError as error:
        return None, f"skipped: {error}"
    net = HedgeNet(ck.kind, len(ck.inputs), ck.hidden, ck.layers)
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in ck.weights.items()})

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.net(inputs, None)[0]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.onnx"
        torch.onnx.export(
            Forward(), (torch.as_tensor(x, dtype=torch.float32),), str(path), dynamo=False
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    feed = {session.get_inputs()[0].name: x.astype(np.float32)}
    z_onnx = session.run(None, feed)[0]
    z_np, _ = network.forward(ck.kind, ck.weights, x, None, ck.layers)
    error = float(np.max(np.abs(z_onnx - z_np)))
    return _per_call_us(lambda: session.run(None, feed)), f"max |numpy − onnx| {error:.1e}"


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = _checkpoint(Path(tmp) / "ck")
        ck = load_checkpoint(path)
        policy = LearnedPolicy(checkpoint=str(path))
        x = np.array([[0.8, 0.6][: len(ck.inputs)]])
        figures: dict[str, object] = {"network": ck.manifest["network"], "inputs": list(ck.inputs)}
        figures["numpy_forward_us"] = _per_call_us(
            lambda: network.squash(
                ck.head, network.forward(ck.kind, ck.weights, x, None, ck.layers)[0]
            )
        )
        onnx_us, note = _onnx_forward_us(ck, x)
        figures["onnx_forward_us"] = onnx_us
        figures["onnx_note"] = note
        hedge = ck.hedge
        option = live.LiveOption(10.0, hedge.tenor_days * DAY, True, 0.3)
        book = [
            live.LiveOption(10.0 + j * 0.1, (87.6 - j) * DAY, True, 0.3, (-1) ** j * 100.0)
            for j in range(20)
        ]
        inp = live.LiveInput(
            time=0.05,
            spot=10.0,
            rate=0.0,
            div=0.0,
            vol=0.3,
            hedges=[live.LiveHedge("STOCK"), live.LiveHedge("C30", option, 0.0)],
            book_options=book,
        )
        memory = live.decide(policy, inp).memory
        state = live.state_of(policy, inp, memory)
        band = DeltaGamma(hedge=hedge, gamma_band=16.0)
        figures["learned_decide_us"] = _per_call_us(lambda: policy.decide(state))
        figures["live_decision_learned_us"] = _per_call_us(lambda: live.decide(policy, inp, memory))
        figures["live_decision_band_us"] = _per_call_us(lambda: live.decide(band, inp))
    figures["learned_over_band"] = (
        figures["live_decision_learned_us"] / figures["live_decision_band_us"]
    )
    if onnx_us is not None:
        figures["onnx_over_numpy"] = onnx_us / figures["numpy_forward_us"]
    return figures


def report(figures: dict) -> None:
    print(f"network {figures['network']} on {figures['inputs']}, one state, per call:")
    print(f"  numpy forward            {figures['numpy_forward_us']:8.1f} µs")
    if figures["onnx_forward_us"] is None:
        print(f"  onnxruntime forward      {figures['onnx_note']}")
    else:
        print(
            f"  onnxruntime forward      {figures['onnx_forward_us']:8.1f} µs "
            f"({figures['onnx_over_numpy']:.2f}x numpy; {figures['onnx_note']})"
        )
    print(f"  LearnedPolicy.decide     {figures['learned_decide_us']:8.1f} µs")
    print(
        f"  live decision, learned   {figures['live_decision_learned_us']:8.1f} µs "
        f"({figures['learned_over_band']:.2f}x the gamma band's "
        f"{figures['live_decision_band_us']:.1f} µs; book of 20 options)"
    )


if __name__ == "__main__":
    report(run())
