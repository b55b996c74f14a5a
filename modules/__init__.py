"""Map modules shipped with smartview. Each file is a standalone module, loaded by path, not imported."""
