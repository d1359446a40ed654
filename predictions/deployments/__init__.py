"""The served configuration the gateway owns: versions, labels, traffic, rollback, reconciling."""
