"""The policy language: text -> positioned tree -> schema check -> compiled, immutable policy."""
