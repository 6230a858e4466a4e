"""The consent register: who agreed to be called on which number for what purpose, and the proof."""
