"""The manager's domain, pure (no I/O): gathering cycles, netting and the joint solve, limits,
budgets, trading state rules, orders in flight, and the decision engine that uses them all."""
