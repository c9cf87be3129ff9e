"""The organisation: org units as a tree, where each person works, who manages whom."""
