"""The simulated market, pure: no I/O beyond reading a replay file.

- `ssvi`: the arbitrage-free SSVI surface family the simulator publishes;
- `chain`: the listed options of an underlying (expiries × strikes × rights), rolling;
- `events`: the scheduled events of a scenario as functions of time (gaps, vol spikes,
  liquidity droughts, announcements);
- `dynamics`: how the surface moves with spot, the model's variance and the events;
- `replay`: underlying ticks from a CSV file;
- `simulator`: one underlying simulated or replayed, tick by tick, with its surface;
- `clientflow`: the book's initial trades and Poisson client trades;
- `session`: everything a scenario emits, in time order (what the marketdata service sends);
- `fair_value`: the fair value of any instrument from a tick and a surface — the one place
  the ledger, execution and the agents get it from.

Submodules are imported on use, so `hedgemesh.market.fair_value` alone stays light.
"""
