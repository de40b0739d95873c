"""FIX 4.4 at the execution gateway, pure: the codec (`codec`), the session layer (`session`:
sequence numbers, logon, heartbeats, resend and gap fill, validation) and the translation of
orders and execution reports (`orders`). No I/O: bytes and times in, effects out; the asyncio
TCP acceptor and the store live in `hedgemesh.execution.adapters.fix`. See docs/fix.md."""
