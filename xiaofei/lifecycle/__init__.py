"""Which model version serves: the registry, its policy, the evaluation gate, canaries, the update job."""
