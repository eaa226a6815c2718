"""CFDI 4.0: the gym's fiscal profile, members' fiscal data, issuing, stamping, cancelling."""
