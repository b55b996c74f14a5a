"""What is applied to records: modules loaded from files, their typed parameters, chains, and the calls into them."""
