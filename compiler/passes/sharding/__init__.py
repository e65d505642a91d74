"""Global-view sharding: the per-op sharding rules (rules.py) that `sharding-propagation` and the
SPMD partitioner read, and the partitioner's redistribution planning and cost model."""
