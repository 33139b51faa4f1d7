"""Neural-network building blocks: elastic ops, the supernet, and static sub-networks."""
