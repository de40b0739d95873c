"""What the API knows of the desk, pure (no I/O): `readmodel` (fed by NATS, responses encoded
once per change), `pnl` (attribution followed incrementally), `render` (what is held to the
response views), `views` (the JSON the API returns and accepts)."""
