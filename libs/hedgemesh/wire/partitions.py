"""Underlyings to partitions: the one mapping every service uses.

A desk of hundreds of underlyings is split into a fixed number of partitions
(`HEDGEMESH_PARTITIONS`: 16 for a firm's book, 1 — everything in one — by default). An
underlying's partition is a stable hash of its code, the same in every process, language and
release: FNV-1a (32 bit) of its UTF-8 bytes, modulo the count. The count is fixed for the life
of a desk: changing it moves underlyings between partitions, so it is a deployment decision, not
a live setting.

Each partition has its own lease (`<service>.p<n>` in KV `leases`, `partition_lease`), so its
leader is fenced on its own: execution keeps one fence per partition of the manager
(`partition_of(order's underlying)`).

>>> partition_of("SPX", 16), partition_of("NDX", 16), partition_of("SPX", 1)
(10, 5, 0)
"""

from __future__ import annotations

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
MAX_PARTITIONS = 1024


def fnv1a_32(data: bytes) -> int:
    """FNV-1a, 32 bit: a simple, stable, well-spread hash of short keys.

    >>> hex(fnv1a_32(b"a"))
    '0xe40c292c'
    """
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def partition_of(underlying: str, count: int) -> int:
    """The partition (0 .. count−1) of `underlying`."""
    if not 1 <= count <= MAX_PARTITIONS:
        raise ValueError(f"the partition count must be in 1..{MAX_PARTITIONS}, got {count}")
    return fnv1a_32(underlying.encode()) % count


def partition_lease(service: str, partition: int, count: int) -> str:
    """The lease of `service` for one partition: the service's own name with one partition
    (the desk as it always ran), `<service>.p<n>` with several."""
    return service if count == 1 else f"{service}.p{partition}"


def split(underlyings: list[str] | tuple[str, ...], count: int) -> dict[int, list[str]]:
    """`underlyings` by partition (every partition present, maybe empty), in the given order."""
    parts: dict[int, list[str]] = {p: [] for p in range(count)}
    for underlying in underlyings:
        parts[partition_of(underlying, count)].append(underlying)
    return parts
