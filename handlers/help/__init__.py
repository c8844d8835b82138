"""The numbered menu, help, cancel, and what to say when nothing else understood."""
