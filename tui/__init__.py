"""The Textual viewer. It asks the core for records and results; the core never knows it exists."""
