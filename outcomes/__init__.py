"""The outcomes dashboard: how the clinic's patients are doing, read across patients,
scheduling and infusions (the layer above them)."""
