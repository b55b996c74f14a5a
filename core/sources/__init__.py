"""Where records come from and go to: topic files and Kafka topics, read by offset, followed, appended to."""
