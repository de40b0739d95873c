"""The ledger's domain: the booking arithmetic (`ledger`: average cost, realised and unrealised
P&L, fees, the account's sequence), pure. Its records are `hedgemesh.records.ledger`; its marks
come from `hedgemesh.market.view.MarketView`."""
